using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Fulfillment.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class PaymentHold : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "payment_hold",
                schema: "fulfillment",
                table: "fulfilment_orders",
                type: "character varying(50)",
                maxLength: 50,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "payment_hold",
                schema: "fulfillment",
                table: "fulfilment_orders");
        }
    }
}
