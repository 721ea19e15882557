using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Inventory.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class Resourcing : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reservations_order_id_location",
                schema: "inventory",
                table: "reservations");

            migrationBuilder.AddColumn<Guid>(
                name: "reference",
                schema: "inventory",
                table: "reservations",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_reservations_order_id_location_reference",
                schema: "inventory",
                table: "reservations",
                columns: new[] { "order_id", "location", "reference" },
                unique: true,
                filter: "status IN ('Active', 'Confirmed')")
                .Annotation("Npgsql:NullsDistinct", false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reservations_order_id_location_reference",
                schema: "inventory",
                table: "reservations");

            migrationBuilder.DropColumn(
                name: "reference",
                schema: "inventory",
                table: "reservations");

            migrationBuilder.CreateIndex(
                name: "ix_reservations_order_id_location",
                schema: "inventory",
                table: "reservations",
                columns: new[] { "order_id", "location" },
                unique: true,
                filter: "status IN ('Active', 'Confirmed')");
        }
    }
}
