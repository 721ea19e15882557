using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Payments.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class Reauthorization : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "authorization_expires_at",
                schema: "payments",
                table: "payments",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "captured_before_reauthorization",
                schema: "payments",
                table: "payments",
                type: "numeric(19,4)",
                precision: 19,
                scale: 4,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<string>(
                name: "hold_reason",
                schema: "payments",
                table: "payments",
                type: "character varying(50)",
                maxLength: 50,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "reauthorizations",
                schema: "payments",
                table: "payments",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            // Live authorisations made before expiries were recorded: a card's window from when they were made.
            migrationBuilder.Sql("""
                UPDATE payments.payments SET authorization_expires_at = created_at + interval '7 days'
                WHERE status IN ('Authorized', 'PartiallyCaptured') AND authorization_expires_at IS NULL
                """);

            migrationBuilder.CreateIndex(
                name: "ix_payments_authorization_expires_at",
                schema: "payments",
                table: "payments",
                column: "authorization_expires_at",
                filter: "hold_reason IS NULL AND status IN ('Authorized', 'PartiallyCaptured')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_payments_authorization_expires_at",
                schema: "payments",
                table: "payments");

            migrationBuilder.DropColumn(
                name: "authorization_expires_at",
                schema: "payments",
                table: "payments");

            migrationBuilder.DropColumn(
                name: "captured_before_reauthorization",
                schema: "payments",
                table: "payments");

            migrationBuilder.DropColumn(
                name: "hold_reason",
                schema: "payments",
                table: "payments");

            migrationBuilder.DropColumn(
                name: "reauthorizations",
                schema: "payments",
                table: "payments");
        }
    }
}
