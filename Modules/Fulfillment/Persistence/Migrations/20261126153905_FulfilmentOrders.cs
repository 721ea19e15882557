using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Fulfillment.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class FulfilmentOrders : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "fulfilment_orders",
                schema: "fulfillment",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<Guid>(type: "uuid", nullable: false),
                    node_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    lines = table.Column<string>(type: "jsonb", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_fulfilment_orders", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_fulfilment_orders_node_code_status",
                schema: "fulfillment",
                table: "fulfilment_orders",
                columns: new[] { "node_code", "status" });

            migrationBuilder.CreateIndex(
                name: "ix_fulfilment_orders_order_id_node_code",
                schema: "fulfillment",
                table: "fulfilment_orders",
                columns: new[] { "order_id", "node_code" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "fulfilment_orders",
                schema: "fulfillment");
        }
    }
}
