-- The todos table of examples/todo_api.py. AUTOINCREMENT: a deleted todo's id is never handed out
-- again (plain INTEGER PRIMARY KEY would reuse the highest one after it is deleted).
-- up
CREATE TABLE todos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title VARCHAR(200) NOT NULL,
    done BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX todos_done ON todos (done);
-- down
DROP TABLE todos;
