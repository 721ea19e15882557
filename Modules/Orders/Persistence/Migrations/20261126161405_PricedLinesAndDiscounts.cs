using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Orders.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class PricedLinesAndDiscounts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "coupons",
                schema: "orders",
                table: "orders",
                type: "jsonb",
                nullable: true,
                defaultValueSql: "'[]'::jsonb"); // orders placed before this migration read as "none"

            migrationBuilder.AddColumn<decimal>(
                name: "discount_total",
                schema: "orders",
                table: "orders",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "discounts",
                schema: "orders",
                table: "orders",
                type: "jsonb",
                nullable: true,
                defaultValueSql: "'[]'::jsonb"); // orders placed before this migration read as "none"

            migrationBuilder.AlterColumn<string>(
                name: "cause",
                schema: "orders",
                table: "order_timeline",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(200)",
                oldMaxLength: 200);

            migrationBuilder.AddColumn<decimal>(
                name: "discount",
                schema: "orders",
                table: "order_lines",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "gross",
                schema: "orders",
                table: "order_lines",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "net",
                schema: "orders",
                table: "order_lines",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "tax",
                schema: "orders",
                table: "order_lines",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "unit_price",
                schema: "orders",
                table: "order_lines",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "coupons",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "discount_total",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "discounts",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "discount",
                schema: "orders",
                table: "order_lines");

            migrationBuilder.DropColumn(
                name: "gross",
                schema: "orders",
                table: "order_lines");

            migrationBuilder.DropColumn(
                name: "net",
                schema: "orders",
                table: "order_lines");

            migrationBuilder.DropColumn(
                name: "tax",
                schema: "orders",
                table: "order_lines");

            migrationBuilder.DropColumn(
                name: "unit_price",
                schema: "orders",
                table: "order_lines");

            migrationBuilder.AlterColumn<string>(
                name: "cause",
                schema: "orders",
                table: "order_timeline",
                type: "character varying(200)",
                maxLength: 200,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(1000)",
                oldMaxLength: 1000);
        }
    }
}
