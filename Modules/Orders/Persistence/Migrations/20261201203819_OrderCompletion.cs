using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Orders.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class OrderCompletion : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "delivered_at",
                schema: "orders",
                table: "orders",
                type: "timestamp with time zone",
                nullable: true);

            // Orders delivered before this column existed: their window runs from the last parcel's arrival.
            migrationBuilder.Sql("""
                UPDATE orders.orders o SET delivered_at = (SELECT max(s.delivered_at) FROM orders.order_shipments s WHERE s.order_id = o.id)
                WHERE o.status = 'Delivered' AND o.delivered_at IS NULL
                """);

            migrationBuilder.CreateIndex(
                name: "ix_orders_delivered_at",
                schema: "orders",
                table: "orders",
                column: "delivered_at",
                filter: "status = 'Delivered'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_orders_delivered_at",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "delivered_at",
                schema: "orders",
                table: "orders");
        }
    }
}
