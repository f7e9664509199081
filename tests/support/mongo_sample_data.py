"""Documents for the MongoDB sample sets (2024.001-2024.004) to work on, shaped like the strategy document's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId


def seed_sample_documents(db: Any, *, users: int = 40, courses: int = 8) -> None:
    db.users.insert_many([
        {"email": f"learner{i}@example.org", "profile": {"display_name": f"Learner {i}"},
         **({"preferences": {"theme": "dark", "language": "de"}} if i % 10 == 0 else {}),
         **({"metadata": {"source": "import-2023"}} if i % 4 == 1 else {}),
         "created_at": datetime(2024, 1, 1, tzinfo=UTC)}
        for i in range(users)])
    db.courses.insert_many([
        {"title": f"Course {c}", "instructor_id": c % 3, "instructor": {"user_id": c % 3},
         "publication": {"status": "published" if c % 2 else "draft"},
         "metadata": {"category": ["data", "web", "ops"][c % 3], "tags": ["sql", "python"]},
         "stats": {"ratings": {"average": 3.5 + c / 10}},
         "curriculum": [
             {"order": m, "title": f"Module {m}", "lessons": [
                 {"_id": ObjectId(), "title": f"Lesson {m}.{le}", "order": le,
                  **({"type": "video"} if le == 0 else {}),
                  **({"content": {"body": f"Course {c}, lesson {m}.{le}", "minutes": 5 + le}} if le < 2 else {})}
                 for le in range(3)]}
             for m in range(2)]}
        for c in range(courses)])
    db.courses.create_index("title", name="title_1")
    db.courses.create_index("instructor_id", name="instructor_id_1")
    db.user_progress.insert_many([{"user_id": i % users, "course": i % courses,
                                   "time_tracking": {"last_activity": datetime(2024, 3, 1 + i % 28, tzinfo=UTC)}}
                                  for i in range(60)])
