"""Add the preferences structure to the user documents that lack it.

Made correct from the strategy document's version: users are migrated in batches by _id through ctx.each_batch,
each batch committed together with its checkpoint (in one transaction where the server has them), so a run
killed part-way resumes where it stopped and no user is migrated twice; the document marker
(metadata.migration_version) tells down() which users this migration changed, and down() also removes the
metadata sub-document when this migration created it, so a rollback leaves the documents as they were.
"""

from datetime import UTC, datetime

VERSION_MARK = "metadata.migration_version"
DRY_RUN_SAFE = True  # up() writes only through ctx: check mode may run it to count the users it would change

DEFAULT_PREFERENCES = {
    "theme": "light",
    "language": "en",
    "timezone": "UTC",
    "notifications": {
        "email_marketing": False,
        "email_course_updates": True,
        "push_notifications": True,
        "sms_notifications": False,
    },
}


def up(db, ctx):
    migrated_at = datetime.now(UTC)

    def add_preferences(users, writer):
        for user in users:
            writer.update_one(
                "users",
                {"_id": user["_id"], "preferences": {"$exists": False}},
                {"$set": {"preferences": DEFAULT_PREFERENCES, VERSION_MARK: ctx.version,
                          "metadata.migrated_at": migrated_at}},
            )

    ctx.each_batch("users", add_preferences, filter={"preferences": {"$exists": False}}, projection={"_id": 1})


def down(db, ctx):
    def remove_preferences(users, writer):
        for user in users:
            metadata = user.get("metadata") or {}
            if set(metadata) <= {"migration_version", "migrated_at"}:
                # The metadata sub-document was created by up(): remove it whole.
                update = {"$unset": {"preferences": "", "metadata": ""}}
            else:
                update = {"$unset": {"preferences": "", VERSION_MARK: "", "metadata.migrated_at": ""}}
            writer.update_one("users", {"_id": user["_id"], VERSION_MARK: ctx.version}, update)

    ctx.each_batch("users", remove_preferences, filter={VERSION_MARK: ctx.version}, projection={"metadata": 1})


def validate(db, ctx):
    return db.users.count_documents({"preferences": {"$exists": False}}) == 0
