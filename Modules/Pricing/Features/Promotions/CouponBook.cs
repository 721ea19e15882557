using Microsoft.EntityFrameworkCore;
using Npgsql;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Persistence;

namespace OmsModular.Modules.Pricing.Features.Promotions;

/// <summary>
/// Coupon uses, exact under concurrency: pricing an order locks the coupon's row until its
/// transaction ends, decides on the locked numbers (total uses, the customer's uses), and counts the
/// use in the same transaction; a quote reads without locking and counts nothing. A use is given
/// back when its order is cancelled or rejected.
/// </summary>
internal sealed class CouponBook(PricingDbContext db)
{
    public async Task<(Coupon? Coupon, string? Reason)> CheckAsync(string code, string? customerId, DateTimeOffset now, bool forUse, CancellationToken cancellationToken, bool held = false)
    {
        if (forUse)
        {
            // Consumers of one inbox batch share a context saved at the end: flush the uses counted
            // for earlier orders of the batch so the queries below see them.
            await db.SaveChangesAsync(cancellationToken);
        }

        var coupon = forUse
            ? await LockAsync(code, cancellationToken)
            : await db.Coupons.AsNoTracking().SingleOrDefaultAsync(c => c.Code == code, cancellationToken);
        if (coupon is null)
        {
            return (null, "unknown-coupon");
        }

        if (!coupon.Active || coupon.ValidFrom > now || coupon.ValidTo <= now)
        {
            return (coupon, "coupon-not-active");
        }

        if (held)
        {
            return (coupon, null); // the order holds its use already: its limits were checked when it was counted
        }

        if (coupon.UsageLimit is { } limit && coupon.TimesUsed >= limit)
        {
            return (coupon, "usage-limit-reached");
        }

        if (coupon.PerCustomerLimit is { } perCustomer && customerId is not null
            && await db.CouponRedemptions.CountAsync(r => r.CouponCode == code && r.CustomerId == customerId && r.ReleasedAt == null, cancellationToken) >= perCustomer)
        {
            return (coupon, "customer-limit-reached");
        }

        return (coupon, null);
    }

    /// <summary>The coupon, its row locked until the current transaction ends (null when there is none).</summary>
    public async Task<Coupon?> LockAsync(string code, CancellationToken cancellationToken) =>
        (await db.Coupons.FromSql($"SELECT * FROM pricing.coupons WHERE code = {code} FOR UPDATE").ToListAsync(cancellationToken)).SingleOrDefault();

    /// <summary>Counts a use of a coupon checked (and locked) by <see cref="CheckAsync"/> for use.</summary>
    public void Redeem(Coupon coupon, Guid orderId, string customerId, DateTimeOffset now)
    {
        coupon.TimesUsed++;
        db.CouponRedemptions.Add(new CouponRedemption { CouponCode = coupon.Code, OrderId = orderId, CustomerId = customerId, RedeemedAt = now });
    }

    /// <summary>
    /// Gives back the coupon uses of orders that ended without confirmation; returns how many.
    /// Plain SQL: flush uses counted earlier in the same inbox batch first.
    /// </summary>
    public async Task<int> ReleaseAsync(IReadOnlyCollection<Guid> orderIds, CancellationToken cancellationToken)
    {
        await using var release = await db.CreateCommandAsync("""
            WITH released AS (
                UPDATE pricing.coupon_redemptions SET released_at = now()
                WHERE order_id = ANY($1) AND released_at IS NULL
                RETURNING coupon_code),
            counted AS (SELECT coupon_code, count(*)::int AS uses FROM released GROUP BY coupon_code)
            UPDATE pricing.coupons c SET times_used = c.times_used - counted.uses
            FROM counted WHERE c.code = counted.coupon_code
            RETURNING counted.uses
            """, cancellationToken);
        release.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. orderIds] });
        var total = 0;
        await using var reader = await release.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            total += reader.GetInt32(0);
        }

        return total;
    }
}
