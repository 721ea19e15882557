using FluentValidation;

namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>
/// The range of every amount the API accepts: up to a billion with at most four decimals. Totals
/// of the largest order (lines × quantity × price) then stay well inside the columns' numeric(19,4).
/// </summary>
public static class MoneyRules
{
    public const decimal Max = 1_000_000_000m;

    public static IRuleBuilderOptions<T, decimal> IsAmount<T>(this IRuleBuilder<T, decimal> rule) => rule
        .InclusiveBetween(0m, Max).WithMessage($"'{{PropertyName}}' must be an amount from 0 to {Max:#,0}.")
        .PrecisionScale(14, 4, ignoreTrailingZeros: true).WithMessage("'{PropertyName}' may have at most four decimals.");

    public static IRuleBuilderOptions<T, decimal?> IsAmount<T>(this IRuleBuilder<T, decimal?> rule) => rule
        .InclusiveBetween(0m, Max).WithMessage($"'{{PropertyName}}' must be an amount from 0 to {Max:#,0}.")
        .PrecisionScale(14, 4, ignoreTrailingZeros: true).WithMessage("'{PropertyName}' may have at most four decimals.");
}
