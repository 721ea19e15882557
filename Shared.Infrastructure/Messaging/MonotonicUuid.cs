using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// UUID v7 ids that are strictly increasing within this process (RFC 9562, method 1: a 12-bit
/// counter in <c>rand_a</c> within the same millisecond). EF Core inserts the rows of one
/// <c>SaveChanges</c> in key order, so outbox ids must sort in publish order, or events published
/// in one transaction would be dispatched out of order (<see cref="Guid.CreateVersion7()"/> is
/// random within a millisecond).
/// </summary>
public static class MonotonicUuid
{
    private static readonly Lock Gate = new();
    private static long _lastMilliseconds;
    private static int _counter;

    public static Guid Next()
    {
        long milliseconds;
        int counter;
        lock (Gate)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (now > _lastMilliseconds)
            {
                _lastMilliseconds = now;
                _counter = 0;
            }
            else if (++_counter > 0xFFF)
            {
                _lastMilliseconds++; // borrow the next millisecond rather than repeat
                _counter = 0;
            }

            milliseconds = _lastMilliseconds;
            counter = _counter;
        }

        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes[8..]);
        Span<byte> timestamp = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(timestamp, milliseconds);
        timestamp[2..].CopyTo(bytes); // 48-bit big-endian Unix milliseconds
        bytes[6] = (byte)(0x70 | (counter >> 8)); // version 7 + counter high bits
        bytes[7] = (byte)counter;
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true);
    }
}
