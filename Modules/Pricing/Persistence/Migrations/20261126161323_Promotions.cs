using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Pricing.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class Promotions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ended_at",
                schema: "pricing",
                table: "priced_orders",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "coupon_redemptions",
                schema: "pricing",
                columns: table => new
                {
                    coupon_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    order_id = table.Column<Guid>(type: "uuid", nullable: false),
                    customer_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    redeemed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    released_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_coupon_redemptions", x => new { x.coupon_code, x.order_id });
                });

            migrationBuilder.CreateTable(
                name: "promotions",
                schema: "pricing",
                columns: table => new
                {
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    kind = table.Column<string>(type: "character varying(30)", maxLength: 30, nullable: false),
                    value = table.Column<decimal>(type: "numeric(19,4)", precision: 19, scale: 4, nullable: false),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: true),
                    skus = table.Column<List<string>>(type: "text[]", nullable: false),
                    buy_quantity = table.Column<int>(type: "integer", nullable: false),
                    get_quantity = table.Column<int>(type: "integer", nullable: false),
                    min_order_value = table.Column<decimal>(type: "numeric(19,4)", precision: 19, scale: 4, nullable: true),
                    channels = table.Column<List<string>>(type: "text[]", nullable: false),
                    valid_from = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    valid_to = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    priority = table.Column<int>(type: "integer", nullable: false),
                    exclusive = table.Column<bool>(type: "boolean", nullable: false),
                    requires_coupon = table.Column<bool>(type: "boolean", nullable: false),
                    active = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_promotions", x => x.code);
                });

            migrationBuilder.CreateTable(
                name: "coupons",
                schema: "pricing",
                columns: table => new
                {
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    promotion_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    usage_limit = table.Column<int>(type: "integer", nullable: true),
                    per_customer_limit = table.Column<int>(type: "integer", nullable: true),
                    valid_from = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    valid_to = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    active = table.Column<bool>(type: "boolean", nullable: false),
                    times_used = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_coupons", x => x.code);
                    table.ForeignKey(
                        name: "fk_coupons_promotions_promotion_code",
                        column: x => x.promotion_code,
                        principalSchema: "pricing",
                        principalTable: "promotions",
                        principalColumn: "code",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_coupon_redemptions_coupon_code_customer_id",
                schema: "pricing",
                table: "coupon_redemptions",
                columns: new[] { "coupon_code", "customer_id" });

            migrationBuilder.CreateIndex(
                name: "ix_coupon_redemptions_order_id",
                schema: "pricing",
                table: "coupon_redemptions",
                column: "order_id");

            migrationBuilder.CreateIndex(
                name: "ix_coupons_promotion_code",
                schema: "pricing",
                table: "coupons",
                column: "promotion_code");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "coupon_redemptions",
                schema: "pricing");

            migrationBuilder.DropTable(
                name: "coupons",
                schema: "pricing");

            migrationBuilder.DropTable(
                name: "promotions",
                schema: "pricing");

            migrationBuilder.DropColumn(
                name: "ended_at",
                schema: "pricing",
                table: "priced_orders");
        }
    }
}
