namespace OmsModular.Modules.Notifications.Features;

/// <summary>Wakes the e-mail and webhook senders when new work was stored (they also poll).</summary>
internal sealed class NotificationSignals
{
    private readonly SemaphoreSlim _email = new(0, 1);
    private readonly SemaphoreSlim _webhooks = new(0, 1);

    public void EmailStored() => Release(_email);

    public void WebhookStored() => Release(_webhooks);

    public Task<bool> WaitForEmailAsync(TimeSpan timeout, CancellationToken cancellationToken) => _email.WaitAsync(timeout, cancellationToken);

    public Task<bool> WaitForWebhookAsync(TimeSpan timeout, CancellationToken cancellationToken) => _webhooks.WaitAsync(timeout, cancellationToken);

    private static void Release(SemaphoreSlim signal)
    {
        try
        {
            signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
    }
}
