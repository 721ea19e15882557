using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Orders.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class OrderFulfilment : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "fulfilment",
                schema: "orders",
                table: "orders",
                type: "jsonb",
                nullable: true,
                defaultValueSql: "'[]'::jsonb"); // orders routed before this migration read as "not recorded"
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "fulfilment",
                schema: "orders",
                table: "orders");
        }
    }
}
