<%@ page contentType="text/plain; charset=UTF-8" import="java.nio.file.*,java.security.MessageDigest,java.util.HexFormat" %><%
// POST ?name=N with a body: store it in /srv/notes/N (temp file + atomic move);
// GET ?name=N: "sha256 HEX bytes LEN"; GET without name: the number of notes.
Path dir = Paths.get("/srv/notes");
String name = request.getParameter("name");
if (name != null && !name.matches("[A-Za-z0-9_.-]+")) { response.setStatus(400); out.println("bad name"); return; }
if ("POST".equals(request.getMethod()) && name != null) {
    byte[] body = request.getInputStream().readAllBytes();
    Path tmp = Files.createTempFile(dir, name, ".tmp");
    Files.write(tmp, body);
    Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    out.println("stored " + body.length);
} else if (name != null) {
    Path p = dir.resolve(name);
    if (!Files.exists(p)) { response.setStatus(404); out.println("no note"); return; }
    byte[] b = Files.readAllBytes(p);
    out.println("sha256 " + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b)) + " bytes " + b.length);
} else {
    try (var s = Files.list(dir)) { out.println("notes " + s.count()); }
}
%>
