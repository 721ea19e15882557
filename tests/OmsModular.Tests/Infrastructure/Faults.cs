using Npgsql;

namespace OmsModular.Tests.Infrastructure;

/// <summary>
/// Injected failures in the real database. <see cref="FailCommitAsync"/> makes the commit of a
/// module's own transaction fail, right after everything inside it (module API calls that
/// committed on their own included) succeeded: a deferred constraint trigger raises at COMMIT
/// when the transaction wrote a matching row. Its count lives in a sequence, which a rollback does
/// not undo, so "the first N commits fail" holds across the retries. <see cref="OutageAsync"/>
/// makes every matching write fail as a database that is down does (SQLSTATE 57P03, "cannot
/// connect now", a transient error) until the fault is disposed; <see cref="SlowAsync"/> makes
/// them slow.
/// </summary>
internal sealed class Fault : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly string _name;
    private readonly string _table;

    private Fault(string connectionString, string name, string table) => (_connectionString, _name, _table) = (connectionString, name, table);

    /// <summary>Fails the first <paramref name="times"/> commits of transactions that insert or update a row of <paramref name="table"/> matching <paramref name="when"/> (over <c>NEW</c>).</summary>
    public static async Task<Fault> FailCommitAsync(string connectionString, string table, string when, int times = 1)
    {
        var fault = new Fault(connectionString, "fault_" + Guid.NewGuid().ToString("N")[..12], table);
        await fault.ExecuteAsync($"""
            CREATE SEQUENCE public.{fault._name};
            CREATE FUNCTION public.{fault._name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF nextval('public.{fault._name}') <= {times} THEN
                RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = 'injected commit failure ({fault._name})';
              END IF;
              RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER {fault._name} AFTER INSERT OR UPDATE ON {table}
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION public.{fault._name}();
            """);
        return fault;
    }

    /// <summary>Every insert or update of a row of <paramref name="table"/> matching <paramref name="when"/> fails as an unavailable database would, until disposed.</summary>
    public static async Task<Fault> OutageAsync(string connectionString, string table, string when)
    {
        var fault = new Fault(connectionString, "outage_" + Guid.NewGuid().ToString("N")[..12], table);
        await fault.ExecuteAsync($"""
            CREATE SEQUENCE public.{fault._name};
            CREATE FUNCTION public.{fault._name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM nextval('public.{fault._name}');
              RAISE EXCEPTION USING ERRCODE = '57P03', MESSAGE = 'injected outage ({fault._name})';
            END $$;
            CREATE TRIGGER {fault._name} BEFORE INSERT OR UPDATE ON {table}
              FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION public.{fault._name}();
            """);
        return fault;
    }

    /// <summary>Every insert or update of a row of <paramref name="table"/> matching <paramref name="when"/> takes <paramref name="delay"/> longer (a slow dependency), until disposed.</summary>
    public static async Task<Fault> SlowAsync(string connectionString, string table, string when, TimeSpan delay)
    {
        var fault = new Fault(connectionString, "slow_" + Guid.NewGuid().ToString("N")[..12], table);
        await fault.ExecuteAsync($"""
            CREATE SEQUENCE public.{fault._name};
            CREATE FUNCTION public.{fault._name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM nextval('public.{fault._name}');
              PERFORM pg_sleep({delay.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)});
              RETURN NEW;
            END $$;
            CREATE TRIGGER {fault._name} BEFORE INSERT OR UPDATE ON {table}
              FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION public.{fault._name}();
            """);
        return fault;
    }

    /// <summary>How often the fault fired so far (commits failed, or writes refused).</summary>
    public async Task<long> FiredAsync()
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.{_name}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync() =>
        await ExecuteAsync($"DROP TRIGGER IF EXISTS {_name} ON {_table}; DROP FUNCTION IF EXISTS public.{_name}(); DROP SEQUENCE IF EXISTS public.{_name};");

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
