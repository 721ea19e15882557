using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Fulfillment.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class NodesAndRouting : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "node_daily_load",
                schema: "fulfillment",
                columns: table => new
                {
                    node_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    orders = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_node_daily_load", x => new { x.node_code, x.day });
                });

            migrationBuilder.CreateTable(
                name: "nodes",
                schema: "fulfillment",
                columns: table => new
                {
                    code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    country_code = table.Column<string>(type: "character(2)", fixedLength: true, maxLength: 2, nullable: false),
                    latitude = table.Column<double>(type: "double precision", nullable: false),
                    longitude = table.Column<double>(type: "double precision", nullable: false),
                    can_ship = table.Column<bool>(type: "boolean", nullable: false),
                    can_pickup = table.Column<bool>(type: "boolean", nullable: false),
                    daily_capacity = table.Column<int>(type: "integer", nullable: false),
                    priority = table.Column<int>(type: "integer", nullable: false),
                    active = table.Column<bool>(type: "boolean", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_nodes", x => x.code);
                });

            migrationBuilder.CreateTable(
                name: "routing_decisions",
                schema: "fulfillment",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    order_id = table.Column<Guid>(type: "uuid", nullable: false),
                    success = table.Column<bool>(type: "boolean", nullable: false),
                    failure_reason = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: true),
                    strategy = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: false),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    explanation = table.Column<string>(type: "jsonb", nullable: false),
                    decided_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_routing_decisions", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_routing_decisions_order_id",
                schema: "fulfillment",
                table: "routing_decisions",
                column: "order_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "node_daily_load",
                schema: "fulfillment");

            migrationBuilder.DropTable(
                name: "nodes",
                schema: "fulfillment");

            migrationBuilder.DropTable(
                name: "routing_decisions",
                schema: "fulfillment");
        }
    }
}
