using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Orders.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class PipelineSteps : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "hold_released",
                schema: "orders",
                table: "orders",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "payment_step",
                schema: "orders",
                table: "orders",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "Pending");

            migrationBuilder.AddColumn<string>(
                name: "pricing",
                schema: "orders",
                table: "orders",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "Pending");

            migrationBuilder.AddColumn<string>(
                name: "reservation",
                schema: "orders",
                table: "orders",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "Pending");

            migrationBuilder.AddColumn<Guid>(
                name: "routing_decision_id",
                schema: "orders",
                table: "orders",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "shipping_gross",
                schema: "orders",
                table: "orders",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "tax_total",
                schema: "orders",
                table: "orders",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "total",
                schema: "orders",
                table: "orders",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "hold_released",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "payment_step",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "pricing",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "reservation",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "routing_decision_id",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "shipping_gross",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "tax_total",
                schema: "orders",
                table: "orders");

            migrationBuilder.DropColumn(
                name: "total",
                schema: "orders",
                table: "orders");
        }
    }
}
