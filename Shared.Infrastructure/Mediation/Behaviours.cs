using System.Diagnostics;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Shared.Infrastructure.Mediation;

/// <summary>Outermost: logs every command and query with its duration.</summary>
public sealed class LoggingBehaviour<TMessage, TResponse>(ILogger<LoggingBehaviour<TMessage, TResponse>> logger)
    : IPipelineBehavior<TMessage, TResponse>
    where TMessage : notnull, IMessage
{
    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken cancellationToken)
    {
        var name = typeof(TMessage).Name;
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await next(message, cancellationToken).ConfigureAwait(false);
            logger.LogDebug("Handled {Request} in {ElapsedMs:0.0} ms", name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return response;
        }
        catch (Exception exception) when (exception is not ValidationException)
        {
            logger.LogWarning(exception, "{Request} failed after {ElapsedMs:0.0} ms", name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            throw;
        }
    }
}

/// <summary>Runs every FluentValidation validator of the message; a failure never reaches the handler.</summary>
public sealed class ValidationBehaviour<TMessage, TResponse>(IEnumerable<IValidator<TMessage>> validators)
    : IPipelineBehavior<TMessage, TResponse>
    where TMessage : notnull, IMessage
{
    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken cancellationToken)
    {
        var failures = new List<FluentValidation.Results.ValidationFailure>();
        foreach (var validator in validators)
        {
            var result = await validator.ValidateAsync(message, cancellationToken).ConfigureAwait(false);
            failures.AddRange(result.Errors);
        }

        if (failures.Count > 0)
        {
            throw new ValidationException(failures);
        }

        return await next(message, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Innermost: a command of a module runs in one transaction of that module's DbContext; its
/// state change and its outbox rows commit together. Queries and commands already inside a
/// transaction (a consumer, a nested command) pass straight through.
/// </summary>
public sealed class TransactionBehaviour<TMessage, TResponse>(IServiceProvider services, ModuleRegistry registry)
    : IPipelineBehavior<TMessage, TResponse>
    where TMessage : notnull, IMessage
{
    private static readonly bool IsCommand = typeof(IBaseCommand).IsAssignableFrom(typeof(TMessage)) && !typeof(IOwnUnitOfWork).IsAssignableFrom(typeof(TMessage));

    public async ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken cancellationToken)
    {
        var module = IsCommand ? registry.FindByAssembly(typeof(TMessage).Assembly) : null;
        if (module is null)
        {
            return await next(message, cancellationToken).ConfigureAwait(false);
        }

        var db = (ModuleDbContext)services.GetRequiredService(module.DbContextType);
        if (db.Database.CurrentTransaction is not null)
        {
            return await next(message, cancellationToken).ConfigureAwait(false);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var response = await next(message, cancellationToken).ConfigureAwait(false);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        db.SignalOutboxIfNeeded();
        return response;
    }
}

/// <summary>
/// A command whose handler commits its own work (for example by handing it to a writer that
/// commits many requests in one transaction): the transaction behaviour leaves it alone.
/// </summary>
public interface IOwnUnitOfWork;
