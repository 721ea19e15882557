using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Fulfillment.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class ResourcingWaves : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_fulfilment_orders_order_id_node_code",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.AddColumn<int>(
                name: "pending_shortages",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.CreateIndex(
                name: "ix_fulfilment_orders_order_id_node_code",
                schema: "fulfillment",
                table: "fulfilment_orders",
                columns: new[] { "order_id", "node_code" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_fulfilment_orders_order_id_node_code",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.DropColumn(
                name: "pending_shortages",
                schema: "fulfillment",
                table: "fulfilment_orders");

            migrationBuilder.CreateIndex(
                name: "ix_fulfilment_orders_order_id_node_code",
                schema: "fulfillment",
                table: "fulfilment_orders",
                columns: new[] { "order_id", "node_code" },
                unique: true);
        }
    }
}
