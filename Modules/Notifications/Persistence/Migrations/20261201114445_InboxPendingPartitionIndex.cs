using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace OmsModular.Modules.Notifications.Persistence.Migrations
{
    /// <inheritdoc />
    internal partial class InboxPendingPartitionIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_inbox_messages_partition",
                schema: "notifications",
                table: "inbox_messages");

            migrationBuilder.CreateIndex(
                name: "ix_inbox_messages_partition_pending",
                schema: "notifications",
                table: "inbox_messages",
                columns: new[] { "consumer", "partition_key", "sequence" },
                filter: "status = 0");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_inbox_messages_partition_pending",
                schema: "notifications",
                table: "inbox_messages");

            migrationBuilder.CreateIndex(
                name: "ix_inbox_messages_partition",
                schema: "notifications",
                table: "inbox_messages",
                columns: new[] { "consumer", "partition_key", "sequence" });
        }
    }
}
