using System.Security.Cryptography;
using System.Text;

namespace OmsModular.Shared.Infrastructure.Secrets;

/// <summary>
/// Public-key encryption of small secrets (ECIES on P-256 with AES-256-GCM): whoever has the public
/// key can seal, only the holder of the private key can open. Sealed form:
/// <c>v1.&lt;key id&gt;.&lt;ephemeral public key&gt;.&lt;nonce, ciphertext, tag&gt;</c> (base64url).
/// </summary>
public static class SealedBox
{
    private const string Version = "v1";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public static (string KeyId, byte[] PublicKey, byte[] PrivateKey) CreateKey()
    {
        using var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return (Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), key.ExportSubjectPublicKeyInfo(), key.ExportPkcs8PrivateKey());
    }

    // Imported keys, by their bytes: importing (parsing SPKI / PKCS#8) costs more than the key agreement.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ECDiffieHellmanPublicKey> PublicKeys = new(StringComparer.Ordinal);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ECDiffieHellman> PrivateKeys = new(StringComparer.Ordinal);

    private static ECDiffieHellmanPublicKey Recipient(byte[] publicKey) =>
        PublicKeys.GetOrAdd(Convert.ToBase64String(publicKey), _ =>
        {
            using var key = ECDiffieHellman.Create();
            key.ImportSubjectPublicKeyInfo(publicKey, out var _);
            return key.PublicKey;
        });

    /// <summary>Seals <paramref name="secret"/> for the holder of the key, bound to <paramref name="context"/> (e.g. the order it is for): it opens only with the same context.</summary>
    public static string Seal(string keyId, byte[] publicKey, string secret, string context)
    {
        var recipient = Recipient(publicKey);
        using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var ephemeralPublic = ephemeral.ExportSubjectPublicKeyInfo();
        var aesKey = ephemeral.DeriveKeyFromHash(recipient, HashAlgorithmName.SHA256, ephemeralPublic, null);
        var plaintext = Encoding.UTF8.GetBytes(secret);
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(aesKey, TagSize))
        {
            aes.Encrypt(nonce, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length), Encoding.UTF8.GetBytes($"{keyId}|{context}"));
        }

        return $"{Version}.{keyId}.{Base64Url(ephemeralPublic)}.{Base64Url(output)}";
    }

    /// <summary>The key id a sealed value names (to pick the private key), or null when it is not a sealed value.</summary>
    public static string? KeyIdOf(string sealedValue)
    {
        var parts = sealedValue.Split('.');
        return parts.Length == 4 && parts[0] == Version ? parts[1] : null;
    }

    public static string Open(byte[] privateKey, string sealedValue, string context)
    {
        var parts = sealedValue.Split('.');
        if (parts.Length != 4 || parts[0] != Version)
        {
            throw new CryptographicException("Not a sealed value.");
        }

        var ephemeralPublic = FromBase64Url(parts[2]);
        var box = FromBase64Url(parts[3]);
        if (box.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("The sealed value is cut short.");
        }

        var recipient = PrivateKeys.GetOrAdd(Convert.ToBase64String(privateKey), _ =>
        {
            var key = ECDiffieHellman.Create();
            key.ImportPkcs8PrivateKey(privateKey, out var _);
            return key;
        });
        using var sender = ECDiffieHellman.Create();
        sender.ImportSubjectPublicKeyInfo(ephemeralPublic, out _);
        using var senderPublic = sender.PublicKey;
        byte[] aesKey;
        lock (recipient)
        {
            aesKey = recipient.DeriveKeyFromHash(senderPublic, HashAlgorithmName.SHA256, ephemeralPublic, null);
        }
        var plaintext = new byte[box.Length - NonceSize - TagSize];
        using (var aes = new AesGcm(aesKey, TagSize))
        {
            aes.Decrypt(box.AsSpan(0, NonceSize), box.AsSpan(NonceSize, plaintext.Length), box.AsSpan(NonceSize + plaintext.Length), plaintext, Encoding.UTF8.GetBytes($"{parts[1]}|{context}"));
        }

        return Encoding.UTF8.GetString(plaintext);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded.PadRight(padded.Length + ((4 - (padded.Length % 4)) % 4), '='));
    }
}
