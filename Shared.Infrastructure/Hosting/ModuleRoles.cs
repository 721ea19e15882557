using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>
/// Least-privilege login roles, one per module (<c>oms_&lt;schema&gt;</c>): each may use only its own
/// schema (its tables and sequences, read and write; no DDL). The role that migrates (the owner of
/// the tables) grants, also for tables later migrations add. Passwords are generated once and kept
/// by the caller (a file beside the embedded cluster's password, or printed for a deployment).
/// </summary>
public static class ModuleRoles
{
    /// <summary>What a role is for: a module, or a part of the Host with a schema of its own (the API-key store, Hangfire's jobs).</summary>
    public sealed record Scope(string Name, string Schema)
    {
        public static Scope Of(ModuleManifest manifest) => new(manifest.Name, manifest.Schema);
    }

    /// <summary>The API-key store's role (schema <c>access</c>).</summary>
    public static Scope Access { get; } = new("Access", "access");

    /// <summary>Hangfire's role (schema <c>hangfire</c>): job storage, nothing of the modules.</summary>
    public static Scope Jobs { get; } = new("Jobs", "hangfire");

    public static string RoleOf(ModuleManifest manifest) => RoleOf(Scope.Of(manifest));

    public static string RoleOf(Scope scope) => $"oms_{scope.Schema}";

    /// <summary>Creates or updates the roles of these modules and answers each role's password (known ones are kept).</summary>
    public static Task<IReadOnlyDictionary<string, string>> ProvisionAsync(
        string adminConnectionString, IEnumerable<ModuleManifest> modules, IReadOnlyDictionary<string, string> knownPasswords, CancellationToken cancellationToken = default) =>
        ProvisionAsync(adminConnectionString, modules.Select(Scope.Of), knownPasswords, cancellationToken);

    /// <summary>Creates or updates the roles of these scopes and answers each role's password (known ones are kept).</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ProvisionAsync(
        string adminConnectionString, IEnumerable<Scope> modules, IReadOnlyDictionary<string, string> knownPasswords, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(adminConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var manifest in modules)
        {
            var role = RoleOf(manifest);
            // A role made before keeps its password unless the caller knows it (a running Host may use it).
            if (knownPasswords.TryGetValue(manifest.Name, out var known) && !known.All(char.IsAsciiHexDigit))
            {
                // Kept as it is or not at all: a password nobody learns would lock the role's users out.
                throw new InvalidOperationException($"The password given for role {RoleOf(manifest)} is not one provisioning made (hexadecimal); drop the role or give it a hexadecimal password to provision it again.");
            }

            var password = known ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            if (!knownPasswords.ContainsKey(manifest.Name) && await ExistsAsync(connection, role, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Role {role} exists and its password is not known here: give it (ConnectionStrings:{manifest.Name}) or drop the role to provision it again.");
            }

            var schema = Quote(manifest.Schema);
            var quotedRole = Quote(role);
            var sql = $"""
                DO $$
                BEGIN
                  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {quotedRole} LOGIN PASSWORD '{password}';
                  END IF;
                END $$;
                ALTER ROLE {quotedRole} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
                {(knownPasswords.ContainsKey(manifest.Name) ? $"ALTER ROLE {quotedRole} WITH PASSWORD '{password}';" : string.Empty)}
                CREATE SCHEMA IF NOT EXISTS {schema};
                REVOKE CREATE ON SCHEMA public FROM {quotedRole};
                GRANT USAGE ON SCHEMA {schema} TO {quotedRole};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quotedRole};
                DO $$
                BEGIN
                  IF to_regclass('{schema}."__ef_migrations_history"') IS NOT NULL THEN
                    EXECUTE 'REVOKE ALL ON TABLE {schema}."__ef_migrations_history" FROM {quotedRole}';
                  END IF;
                  -- Hangfire's version table: read, never written (the owner's upgrades depend on it)
                  IF to_regclass('{schema}."schema"') IS NOT NULL THEN
                    EXECUTE 'REVOKE INSERT, UPDATE, DELETE ON TABLE {schema}."schema" FROM {quotedRole}';
                  END IF;
                END $$;
                GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {quotedRole};
                ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quotedRole};
                ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {quotedRole};
                """;
            await using (var command = new NpgsqlCommand(sql, connection))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            result[manifest.Name] = password;
        }

        return result;
    }

    /// <summary>A module's connection: the shared one, as the module's role.</summary>
    public static string ConnectionStringFor(string sharedConnectionString, ModuleManifest manifest, string password) =>
        ConnectionStringFor(sharedConnectionString, Scope.Of(manifest), password);

    public static string ConnectionStringFor(string sharedConnectionString, Scope scope, string password) =>
        new NpgsqlConnectionStringBuilder(sharedConnectionString) { Username = RoleOf(scope), Password = password }.ConnectionString;

    /// <summary>The roles' passwords by module, kept in a file written with mode 0600.</summary>
    public static Task SaveAsync(string file, IReadOnlyDictionary<string, string> passwords) =>
        PrivateFile.WriteAsync(file, JsonSerializer.Serialize(passwords));

    public static IReadOnlyDictionary<string, string> Load(string file) =>
        File.Exists(file)
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(file)) ?? []
            : new Dictionary<string, string>();

    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, string role, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", connection) { Parameters = { new() { Value = role } } };
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
