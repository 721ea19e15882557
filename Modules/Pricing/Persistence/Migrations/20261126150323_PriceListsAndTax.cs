using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Pricing.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class PriceListsAndTax : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "price_lists",
                schema: "pricing",
                columns: table => new
                {
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    channel = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: false),
                    prices_include_tax = table.Column<bool>(type: "boolean", nullable: false),
                    valid_from = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    valid_to = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_price_lists", x => x.code);
                });

            migrationBuilder.CreateTable(
                name: "priced_orders",
                schema: "pricing",
                columns: table => new
                {
                    order_id = table.Column<Guid>(type: "uuid", nullable: false),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: false),
                    total = table.Column<decimal>(type: "numeric(19,4)", precision: 19, scale: 4, nullable: false),
                    detail = table.Column<string>(type: "jsonb", nullable: false),
                    priced_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_priced_orders", x => x.order_id);
                });

            migrationBuilder.CreateTable(
                name: "shipping_rates",
                schema: "pricing",
                columns: table => new
                {
                    service_level = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: false),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: false),
                    amount = table.Column<decimal>(type: "numeric(19,4)", precision: 19, scale: 4, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_shipping_rates", x => new { x.service_level, x.currency });
                });

            migrationBuilder.CreateTable(
                name: "tax_rates",
                schema: "pricing",
                columns: table => new
                {
                    country_code = table.Column<string>(type: "character(2)", fixedLength: true, maxLength: 2, nullable: false),
                    rate = table.Column<decimal>(type: "numeric(7,6)", precision: 7, scale: 6, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tax_rates", x => x.country_code);
                });

            migrationBuilder.CreateTable(
                name: "prices",
                schema: "pricing",
                columns: table => new
                {
                    sku = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    min_quantity = table.Column<int>(type: "integer", nullable: false),
                    price_list_code = table.Column<string>(type: "character varying(64)", nullable: false),
                    unit_price = table.Column<decimal>(type: "numeric(19,4)", precision: 19, scale: 4, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_prices", x => new { x.price_list_code, x.sku, x.min_quantity });
                    table.ForeignKey(
                        name: "fk_prices_price_lists_price_list_code",
                        column: x => x.price_list_code,
                        principalSchema: "pricing",
                        principalTable: "price_lists",
                        principalColumn: "code",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "priced_orders",
                schema: "pricing");

            migrationBuilder.DropTable(
                name: "prices",
                schema: "pricing");

            migrationBuilder.DropTable(
                name: "shipping_rates",
                schema: "pricing");

            migrationBuilder.DropTable(
                name: "tax_rates",
                schema: "pricing");

            migrationBuilder.DropTable(
                name: "price_lists",
                schema: "pricing");
        }
    }
}
