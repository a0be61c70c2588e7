-- Notebooks: the index of the .ipynb files under <data dir>/notebooks (the files hold the cells).
CREATE TABLE notebooks (
    name        TEXT PRIMARY KEY,
    cluster     TEXT,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    cells       INTEGER NOT NULL DEFAULT 0
);
