"""A small SQL course and questions whose answer is in one known lesson (retrieval quality)."""
from __future__ import annotations

LESSONS = {
    "select": ("Selecting rows with SELECT", """
The SELECT statement reads rows from a table. You list the columns you want after SELECT and the
table after FROM. SELECT * returns every column, which is handy while exploring but wasteful in
production queries.

Column aliases rename a column in the result: SELECT price AS cost FROM products. DISTINCT removes
duplicate rows from the result set.
"""),
    "where": ("Filtering with WHERE", """
The WHERE clause keeps only the rows that satisfy a condition. Conditions use comparison operators
such as =, <> and <, and they combine with AND, OR and NOT.

LIKE matches text patterns: the percent sign matches any run of characters and the underscore
matches exactly one character. BETWEEN tests a range and IN tests membership in a list.
"""),
    "joins": ("Combining tables with joins", """
A join combines rows from two tables using a related column, usually a foreign key. An INNER JOIN
returns only the pairs of rows that match on both sides.

A LEFT OUTER JOIN keeps every row of the left table and fills the columns of the right table with
NULL when there is no match. A self join joins a table to itself, for example employees and
their managers.
"""),
    "groupby": ("Aggregation with GROUP BY", """
Aggregate functions such as COUNT, SUM, AVG, MIN and MAX summarise many rows into one value.
GROUP BY splits the rows into groups that share the same values, and the aggregate is computed
once per group.

HAVING filters groups after aggregation, while WHERE filters rows before grouping. Every column
in the select list must either be grouped or aggregated.
"""),
    "indexes": ("Indexes and query speed", """
An index is a separate data structure, usually a B-tree, that lets the database find rows without
scanning the whole table. Indexes speed up lookups and sorting on the indexed columns.

Indexes are not free: every insert, update and delete must also maintain the index, and each
index uses disk space. EXPLAIN shows whether the query planner uses an index.
"""),
    "transactions": ("Transactions and ACID", """
A transaction groups statements so that they succeed or fail together. BEGIN starts a transaction,
COMMIT makes its changes permanent and ROLLBACK undoes them.

ACID stands for atomicity, consistency, isolation and durability. Isolation levels such as read
committed and serializable decide which concurrent changes a transaction can see; a deadlock
happens when two transactions wait for each other's locks.
"""),
    "nulls": ("Working with NULL", """
NULL marks a missing or unknown value. Comparing anything with NULL using = yields unknown, so
you must test with IS NULL or IS NOT NULL.

COALESCE returns its first argument that is not NULL, which is useful to supply a default value.
Aggregates like SUM and AVG ignore NULL values, but COUNT(*) counts every row.
"""),
}

QUESTIONS = [
    ("How do I rename a column in the result with an alias?", "select"),
    ("How can I remove duplicate rows from my result?", "select"),
    ("What does the underscore wildcard match in a LIKE pattern?", "where"),
    ("How do I test whether a value is in a list or between a range?", "where"),
    ("What does a LEFT OUTER JOIN do when there is no match?", "joins"),
    ("How do I join a table to itself to find employees' managers?", "joins"),
    ("What is the difference between HAVING and WHERE when grouping?", "groupby"),
    ("Which aggregate functions summarise rows, like AVG or SUM?", "groupby"),
    ("Why do indexes slow down inserts and updates?", "indexes"),
    ("How can I see if the query planner uses an index with EXPLAIN?", "indexes"),
    ("What happens on ROLLBACK of a transaction?", "transactions"),
    ("What causes a deadlock between transactions?", "transactions"),
    ("Why does comparing with NULL using = not work?", "nulls"),
    ("What does COALESCE return?", "nulls"),
]

NOT_COVERED = [
    "How do I train a neural network with backpropagation?",
    "What is the capital of Australia?",
    "How do I bake sourdough bread?",
]
