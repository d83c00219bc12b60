<?php
// A small notes app: GET lists (or one note with ?id=), POST stores a note (form field `text`
// or an uploaded file `file`) in SQLite under /var/www/data.
$db = new SQLite3('/var/www/data/notes.db');
$db->busyTimeout(10000);
$db->exec('PRAGMA journal_mode=WAL');
$db->exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT, sha TEXT)');
header('Content-Type: text/plain');
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    if (isset($_FILES['file'])) {
        if ($_FILES['file']['error'] !== UPLOAD_ERR_OK) { http_response_code(500); echo "upload error ", $_FILES['file']['error'], "\n"; exit; }
        $body = file_get_contents($_FILES['file']['tmp_name']);
    } else {
        $body = $_POST['text'] ?? '';
    }
    $st = $db->prepare('INSERT INTO notes (body, sha) VALUES (:b, :s)');
    $st->bindValue(':b', $body); $st->bindValue(':s', sha1($body));
    if (!$st->execute()) { http_response_code(500); echo $db->lastErrorMsg(), "\n"; exit; }
    echo "id ", $db->lastInsertRowID(), " sha1 ", sha1($body), "\n";
} elseif (isset($_GET['id'])) {
    $st = $db->prepare('SELECT sha, length(body) AS n FROM notes WHERE id = :i');
    $st->bindValue(':i', (int)$_GET['id']);
    $r = $st->execute()->fetchArray(SQLITE3_ASSOC);
    if (!$r) { http_response_code(404); echo "no note\n"; exit; }
    echo "sha1 ", $r['sha'], " bytes ", $r['n'], "\n";
} elseif (isset($_GET['find'])) {
    $st = $db->prepare('SELECT id FROM notes WHERE body = :b');
    $st->bindValue(':b', $_GET['find']);
    $r = $st->execute()->fetchArray(SQLITE3_ASSOC);
    if (!$r) { http_response_code(404); echo "not found\n"; exit; }
    echo "id ", $r['id'], "\n";
} else {
    echo "notes ", $db->querySingle('SELECT count(*) FROM notes'), "\n";
}
