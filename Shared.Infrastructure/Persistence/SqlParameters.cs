using Npgsql;

namespace OmsModular.Shared.Infrastructure.Persistence;

/// <summary>Parameters for the hand-written set-based SQL of the modules (<c>unnest($1::uuid[], …)</c>).</summary>
public static class SqlParameters
{
    /// <summary>One array parameter (sent as the matching PostgreSQL array type).</summary>
    public static NpgsqlParameter ArrayParameter<T>(IEnumerable<T> values) => new NpgsqlParameter<T[]> { TypedValue = values.ToArray() };
}
