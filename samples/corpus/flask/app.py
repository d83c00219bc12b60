"""Items in SQLite: POST /items (form `name`, or a file `file`), GET /items/<id>, GET /items."""
import hashlib
import sqlite3

from flask import Flask, abort, g, jsonify, request

app = Flask(__name__)
DB = "/data/items.db"


def db():
    if "db" not in g:
        g.db = sqlite3.connect(DB, timeout=30)
        g.db.execute("PRAGMA journal_mode=WAL")
        g.db.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, sha TEXT, size INTEGER)")
    return g.db


@app.teardown_appcontext
def close(_exc):
    if "db" in g:
        g.db.close()


@app.get("/")
def index():
    return "ok\n"


@app.post("/items")
def add():
    if "file" in request.files:
        data = request.files["file"].read()
        name = request.files["file"].filename
    else:
        name = request.form.get("name", "")
        data = name.encode()
    with db() as c:
        cur = c.execute("INSERT INTO items (name, sha, size) VALUES (?, ?, ?)",
                        (name, hashlib.sha256(data).hexdigest(), len(data)))
    return jsonify(id=cur.lastrowid, sha=hashlib.sha256(data).hexdigest(), size=len(data))


@app.get("/items/<int:item>")
def get(item):
    row = db().execute("SELECT name, sha, size FROM items WHERE id = ?", (item,)).fetchone()
    if row is None:
        abort(404)
    return jsonify(name=row[0], sha=row[1], size=row[2])


@app.get("/items")
def find():
    row = db().execute("SELECT id FROM items WHERE name = ?", (request.args.get("name", ""),)).fetchone()
    if row is None:
        abort(404)
    return jsonify(id=row[0])
