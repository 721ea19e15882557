namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>
/// A business problem a handler reports to the caller: the Host turns it into RFC 9457 problem
/// details with this status, type (<c>urn:oms:problem:&lt;code&gt;</c>), title and detail, and the
/// field it concerns when there is one.
/// </summary>
public sealed class ProblemException(int status, string code, string title, string detail, string? field = null) : Exception(detail)
{
    public int Status { get; } = status;

    public string Type { get; } = $"urn:oms:problem:{code}";

    public string Title { get; } = title;

    public string? Field { get; } = field;

    public static ProblemException NotFound(string what, string detail) => new(404, "not-found", $"{what} not found", detail);

    public static ProblemException Conflict(string code, string title, string detail, string? field = null) => new(409, code, title, detail, field);
}
