using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Fulfillment.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class Shipments : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "delivered_at",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "packed_at",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "parcels",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "picking_started_at",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "shipped_at",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "weight_kg",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "numeric(10,3)",
                precision: 10,
                scale: 3,
                nullable: true);


            migrationBuilder.CreateTable(
                name: "shipments",
                schema: "fulfillment",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    fulfilment_order_id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<Guid>(type: "uuid", nullable: false),
                    node_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    carrier = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: false),
                    service = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: false),
                    tracking_number = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    tracking_url = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    parcels = table.Column<int>(type: "integer", nullable: true),
                    weight_kg = table.Column<decimal>(type: "numeric(10,3)", precision: 10, scale: 3, nullable: true),
                    lines = table.Column<string>(type: "jsonb", nullable: false),
                    idempotency_key = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    request_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    shipped_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    delivered_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_shipments", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_shipments_carrier_tracking_number",
                schema: "fulfillment",
                table: "shipments",
                columns: new[] { "carrier", "tracking_number" });

            migrationBuilder.CreateIndex(
                name: "ix_shipments_fulfilment_order_id_idempotency_key",
                schema: "fulfillment",
                table: "shipments",
                columns: new[] { "fulfilment_order_id", "idempotency_key" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_shipments_order_id",
                schema: "fulfillment",
                table: "shipments",
                column: "order_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "shipments",
                schema: "fulfillment");

            migrationBuilder.DropColumn(
                name: "delivered_at",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "packed_at",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "parcels",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "picking_started_at",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "shipped_at",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "weight_kg",
                schema: "fulfillment",
                table: "fulfilment_orders");

        }
    }
}
