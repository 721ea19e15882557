using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Fulfillment.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class Pickup : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "is_pickup",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "pickup_expired",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "pickup_expires_at",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_fulfilment_orders_pickup_expires_at",
                schema: "fulfillment",
                table: "fulfilment_orders",
                column: "pickup_expires_at",
                filter: "status = 'ReadyForPickup'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_fulfilment_orders_pickup_expires_at",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "is_pickup",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "pickup_expired",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "pickup_expires_at",
                schema: "fulfillment",
                table: "fulfilment_orders");
        }
    }
}
