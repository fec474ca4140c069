#include "http/files.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/chat_room_actor.hpp"
#include "http/auth.hpp"
#include "persistence/ids.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::http {
namespace {

// The record: "MXF\1", crc32c (LE) of everything after it, created_at_ms (LE i64), then
// u16-prefixed owner id and content type, a u32-prefixed sealed name, and the sealed bytes.
constexpr std::string_view record_magic{"MXF\x01", 4};
constexpr std::size_t max_name_bytes = 255;
// Attachments looked at when deciding who reads a file.
constexpr std::size_t max_refs_checked = 256;
// Uploads of one person that an export lists or an erasure deletes.
constexpr std::size_t max_files_per_person = std::size_t{1} << 20;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

bool get_le(std::string_view& in, int bytes, uint64_t& v) {
  if (in.size() < static_cast<std::size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  in.remove_prefix(static_cast<std::size_t>(bytes));
  return true;
}

bool get_chunk(std::string_view& in, int len_bytes, std::string_view& out) {
  uint64_t n = 0;
  if (!get_le(in, len_bytes, n) || in.size() < n) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// The header fields and the still-sealed parts of a record.
struct parsed_record {
  int64_t created_at_ms = 0;
  std::string_view owner_id;
  std::string_view content_type;
  std::string_view sealed_name;
  std::string_view sealed_bytes;
};

caf::expected<parsed_record> parse_record(std::string_view file_id, std::string_view rec,
                                          bool verify_checksum) {
  auto corrupt = [&] {
    return make_error(errc::corrupt_record, "file " + std::string{file_id} + " is damaged");
  };
  if (rec.size() < record_magic.size() + 4 || rec.substr(0, 4) != record_magic) return corrupt();
  std::string_view in = rec.substr(4);
  uint64_t crc = 0;
  get_le(in, 4, crc);
  if (verify_checksum && persistence::crc32c(in) != static_cast<uint32_t>(crc)) return corrupt();
  parsed_record p;
  uint64_t created = 0;
  if (!get_le(in, 8, created) || !get_chunk(in, 2, p.owner_id) ||
      !get_chunk(in, 2, p.content_type) || !get_chunk(in, 4, p.sealed_name))
    return corrupt();
  p.created_at_ms = static_cast<int64_t>(created);
  p.sealed_bytes = in;
  return p;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_plain_text(std::string_view b) {
  if (b.empty()) return false;
  for (unsigned char c : b) {
    if (c == '\t' || c == '\n' || c == '\r' || c == '\f') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return actors::is_valid_utf8(b);
}

bool is_file_id(std::string_view id) {
  return is_valid_id(id) && kind_of(id) == "file" && id.find('.') == std::string_view::npos;
}

std::string lower_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Whether a declared media type agrees with the sniffed one; octet-stream declares nothing.
bool declared_agrees(std::string_view declared_header, const std::string& sniffed) {
  auto media = lower_trim(declared_header.substr(0, declared_header.find(';')));
  if (media.empty() || media == "application/octet-stream") return true;
  if (media == sniffed) return true;
  if (sniffed == "image/jpeg" && (media == "image/jpg" || media == "image/pjpeg")) return true;
  // Any text/* that holds plain UTF-8 is stored, and served, as text/plain.
  return sniffed == "text/plain" && starts_with(media, "text/");
}

// Content-Disposition for a stored name: an ASCII fallback and the RFC 8187 UTF-8 form.
std::string content_disposition(const std::string& name) {
  if (name.empty()) return "attachment";
  std::string ascii, encoded;
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : name) {
    bool plain = std::isalnum(c) || c == '.' || c == '-' || c == '_';
    ascii += (plain || c == ' ') ? static_cast<char>(c) : '_';
    if (plain) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 0xf];
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

response file_response(const stored_file& f) {
  response r;
  r.status = 200;
  r.content_type = f.content_type == "text/plain" ? "text/plain; charset=utf-8" : f.content_type;
  r.body = f.bytes;
  r.headers.emplace_back("Content-Disposition", content_disposition(f.name));
  return r;
}

// Tries the rooms one after the other: the first that lets the caller read it serves the file.
void serve_if_room_reader(std::shared_ptr<api> a, std::shared_ptr<stored_file> f,
                          std::shared_ptr<std::vector<std::string>> rooms, std::size_t i,
                          actors::caller c, respond_fn respond) {
  if (i >= rooms->size()) {
    respond(problem(403, "Forbidden", "this file is not shared with you"));
    return;
  }
  auto next = [a, f, rooms, i, c, respond](response) {
    serve_if_room_reader(a, f, rooms, i + 1, c, respond);
  };
  call<actors::chat_room_actor, actors::room_view>(
      *a, (*rooms)[i], false, next, [f, respond](actors::room_view) { respond(file_response(*f)); },
      get_atom::value, c);
}

void upload(std::shared_ptr<api> a, const file_settings& settings, const principal& p,
            std::shared_ptr<std::string> body, const std::optional<std::string>& declared,
            const std::optional<std::string>& name_header, const respond_fn& respond) {
  if (body->size() > settings.max_bytes) {
    respond(problem(413, std::string{reason_phrase(413)},
                    "a file is at most " + std::to_string(settings.max_bytes) + " bytes"));
    return;
  }
  if (body->empty()) {
    respond(problem(400, "Bad Request", "the file is empty"));
    return;
  }
  auto type = sniff_content_type(*body);
  if (type.empty() || std::find(settings.allowed_types.begin(), settings.allowed_types.end(),
                                type) == settings.allowed_types.end()) {
    respond(problem(415, "Unsupported Media Type",
                    "files are PNG, JPEG, GIF, WebP, PDF, MP4 or plain UTF-8 text"));
    return;
  }
  if (declared && !declared_agrees(*declared, type)) {
    respond(problem(415, "Unsupported Media Type",
                    "the content is " + type + ", not the declared Content-Type"));
    return;
  }
  std::string name;
  if (name_header) {
    auto checked = check_file_name(*name_header);
    if (!checked) {
      respond(from_error(checked.error()));
      return;
    }
    name = std::move(*checked);
  }
  auto f = std::make_shared<stored_file>();
  f->file_id = new_id("file");
  f->owner_id = p.caller.user_id;
  f->content_type = type;
  f->name = std::move(name);
  f->created_at_ms = actors::now_ms();
  f->bytes = std::move(*body);
  auto rec = encode_file_record(*a->eng.rt()->sealer, *f);
  if (!rec) {
    respond(from_error(rec.error()));
    return;
  }
  persistence::write_item item;
  item.put(persistence::db::indexes, file_key(f->file_id), std::move(*rec));
  item.put(persistence::db::indexes, files_of_key(f->owner_id, f->file_id), std::string{});
  auto size = f->bytes.size();
  f->bytes.clear();
  commit_item(*a, std::move(item), [f, size, respond](caf::error err) {
    if (err) {
      respond(from_error(err));
      return;
    }
    log::info("file.stored")
        .field("file_id", f->file_id)
        .field("user_id", f->owner_id)
        .field("bytes", static_cast<uint64_t>(size));
    nlohmann::json out{{"file_id", f->file_id},
                       {"content_type", f->content_type},
                       {"size", size},
                       {"created_at", format_rfc3339(f->created_at_ms)}};
    if (!f->name.empty()) out["name"] = f->name;
    respond(json(201, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  });
}

void download(std::shared_ptr<api> a, const std::string& id, const std::string& request_id,
              const std::optional<principal>& p, const respond_fn& respond) {
  auto& store = *a->eng.rt()->store;
  auto rec = store.get(persistence::db::indexes, file_key(id));
  if (!rec) {
    respond(from_error(rec.error()));
    return;
  }
  if (!rec->has_value()) {
    respond(problem(404, "Not Found", "no such file"));
    return;
  }
  auto opened = decode_file_record(*a->eng.rt()->sealer, id, **rec);
  if (!opened) {
    respond(from_error(opened.error()));
    return;
  }
  auto f = std::make_shared<stored_file>(std::move(*opened));
  actors::caller c = p ? p->caller : actors::caller{};
  if (c.signed_in() && c.user_id == f->owner_id) {
    respond(file_response(*f));
    return;
  }
  auto prefix = file_ref_key(id, "");
  auto refs = store.scan(persistence::db::indexes, prefix, max_refs_checked);
  if (!refs) {
    respond(from_error(refs.error()));
    return;
  }
  auto rooms = std::make_shared<std::vector<std::string>>();
  for (auto& [key, kind] : *refs) {
    if (kind == "booth") {
      respond(file_response(*f));
      return;
    }
    if (kind == "room") rooms->push_back(key.substr(prefix.size()));
  }
  if (!c.signed_in()) {
    respond(problem(401, "Unauthorized", "sign in to read this file"));
    return;
  }
  if (c.signed_in() && c.admin) {
    // An administrator reading someone's file that is not public: the audit entry first.
    actors::audit_entry e;
    e.at_ms = actors::now_ms();
    e.who = c.user_id;
    e.whose = {f->owner_id};
    e.action = "read_file";
    e.target = id;
    e.request_id = request_id;
    audit_then(*a, std::move(e), respond, [f, respond] { respond(file_response(*f)); });
    return;
  }
  serve_if_room_reader(a, f, rooms, 0, c, respond);
}

}  // namespace

std::string sniff_content_type(std::string_view b) {
  if (starts_with(b, std::string_view{"\x89PNG\r\n\x1a\n", 8})) return "image/png";
  if (starts_with(b, "\xff\xd8\xff")) return "image/jpeg";
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return "image/gif";
  if (b.size() >= 12 && starts_with(b, "RIFF") && b.substr(8, 4) == "WEBP") return "image/webp";
  if (starts_with(b, "%PDF-")) return "application/pdf";
  if (b.size() >= 12 && b.substr(4, 4) == "ftyp") {
    // Other ISO base media brands (QuickTime, HEIF images, 3GP) are not MP4.
    static constexpr std::string_view mp4_brands[] = {"isom", "iso2", "iso3", "iso4", "iso5",
                                                      "iso6", "mp41", "mp42", "avc1", "M4V ",
                                                      "dash", "mmp4", "MSNV"};
    auto brand = b.substr(8, 4);
    for (auto m : mp4_brands)
      if (brand == m) return "video/mp4";
    return {};
  }
  if (is_plain_text(b)) return "text/plain";
  return {};
}

caf::expected<std::string> check_file_name(std::string_view name) {
  auto bad = [](const char* why) { return make_error(errc::invalid_argument, why); };
  if (name.size() > max_name_bytes) return bad("X-File-Name is longer than 255 bytes");
  if (!actors::is_valid_utf8(name)) return bad("X-File-Name is not valid UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return bad("X-File-Name holds a control character");
    if (c == '/' || c == '\\') return bad("X-File-Name is a name, not a path");
  }
  if (name == "." || name == "..") return bad("X-File-Name is a name, not a path");
  // Bidirectional overrides let "gnp.exe" display as "exe.png": refused like control characters.
  for (std::size_t i = 0; i + 2 < name.size(); ++i) {
    auto b1 = static_cast<unsigned char>(name[i + 1]), b2 = static_cast<unsigned char>(name[i + 2]);
    if (static_cast<unsigned char>(name[i]) == 0xE2 &&
        ((b1 == 0x80 && b2 >= 0xAA && b2 <= 0xAE) || (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9)))
      return bad("X-File-Name holds a bidirectional control character");
  }
  return std::string{name};
}

caf::expected<std::vector<actors::personal_record>> files_export_of(const actors::engine& eng,
                                                                    const std::string& person) {
  auto& store = *eng.rt()->store;
  auto prefix = files_of_key(person, "");
  auto page = store.scan(persistence::db::indexes, prefix, max_files_per_person);
  if (!page) return page.error();
  std::vector<actors::personal_record> out;
  for (auto& [key, value] : *page) {
    auto id = key.substr(prefix.size());
    auto rec = store.get(persistence::db::indexes, file_key(id));
    if (!rec) return rec.error();
    if (!*rec) continue;
    auto f = decode_file_record(*eng.rt()->sealer, id, **rec);
    if (!f) return f.error();
    out.push_back({"files",
                   "files",
                   id,
                   {{"file_id", id},
                    {"name", f->name},
                    {"content_type", f->content_type},
                    {"size", std::to_string(f->bytes.size())},
                    {"uploaded_at_ms", std::to_string(f->created_at_ms)},
                    {"download_url", "/api/v1/files/" + id}}});
  }
  return out;
}

caf::expected<actors::local_erasure> files_erasure_of(const actors::engine& eng,
                                                      const std::string& person) {
  auto& store = *eng.rt()->store;
  auto prefix = files_of_key(person, "");
  auto page = store.scan(persistence::db::indexes, prefix, max_files_per_person);
  if (!page) return page.error();
  actors::local_erasure out;
  for (auto& [key, value] : *page) {
    auto id = key.substr(prefix.size());
    auto refs = store.scan(persistence::db::indexes, file_ref_key(id, ""), max_refs_checked);
    if (!refs) return refs.error();
    for (auto& [ref, kind] : *refs) out.item.erase(persistence::db::indexes, ref);
    out.item.erase(persistence::db::indexes, file_key(id));
    out.item.erase(persistence::db::indexes, key);
    ++out.records;
  }
  return out;
}

std::string files_of_key(std::string_view person, std::string_view file_id) {
  std::string k = "files_of/";
  k += person;
  k += '\0';
  k += file_id;
  return k;
}

std::string file_key(std::string_view file_id) {
  return "file/" + std::string{file_id};
}

std::string file_ref_key(std::string_view file_id, std::string_view target_id) {
  return "fileref/" + std::string{file_id} + "/" + std::string{target_id};
}

caf::expected<std::string> encode_file_record(persistence::field_sealer& sealer,
                                              const stored_file& f) {
  auto name = sealer.seal(f.owner_id, f.file_id, f.name);
  if (!name) return name.error();
  auto bytes = sealer.seal(f.owner_id, f.file_id, f.bytes);
  if (!bytes) return bytes.error();
  std::string rest;
  rest.reserve(32 + f.owner_id.size() + f.content_type.size() + name->size() + bytes->size());
  put_le(rest, static_cast<uint64_t>(f.created_at_ms), 8);
  put_le(rest, f.owner_id.size(), 2);
  rest += f.owner_id;
  put_le(rest, f.content_type.size(), 2);
  rest += f.content_type;
  put_le(rest, name->size(), 4);
  rest += *name;
  rest += *bytes;
  std::string out{record_magic};
  put_le(out, persistence::crc32c(rest), 4);
  out += rest;
  return out;
}

caf::expected<stored_file> decode_file_record(persistence::field_sealer& sealer,
                                              std::string_view file_id, std::string_view record) {
  auto p = parse_record(file_id, record, true);
  if (!p) return p.error();
  stored_file f;
  f.file_id = std::string{file_id};
  f.owner_id = std::string{p->owner_id};
  f.content_type = std::string{p->content_type};
  f.created_at_ms = p->created_at_ms;
  auto name = sealer.open(f.owner_id, f.file_id, p->sealed_name);
  if (!name) return name.error();
  f.name = std::move(*name);
  auto bytes = sealer.open(f.owner_id, f.file_id, p->sealed_bytes);
  if (!bytes) return bytes.error();
  f.bytes = std::move(*bytes);
  return f;
}

caf::error check_attachable(const api& a, const actors::caller& c, const std::string& file_id) {
  if (!is_file_id(file_id)) return make_error(errc::invalid_argument, "file_id is not a file id");
  auto rec = a.eng.rt()->store->get(persistence::db::indexes, file_key(file_id));
  if (!rec) return rec.error();
  if (!rec->has_value()) return make_error(errc::not_found, "no such file");
  auto p = parse_record(file_id, **rec, false);
  if (!p) return p.error();
  if (!c.admin && p->owner_id != c.user_id)
    return make_error(errc::forbidden, "only its uploader attaches a file");
  return {};
}

void record_attachment(const api& a, const std::string& file_id, const std::string& target_id,
                       const std::string& kind, std::function<void(caf::error)> done) {
  persistence::write_item item;
  item.put(persistence::db::indexes, file_ref_key(file_id, target_id), kind);
  commit_item(a, std::move(item), std::move(done));
}

void add_file_routes(router& routes, std::shared_ptr<api> a, file_settings settings) {
  routes.add(
      "POST", "/api/v1/files",
      [a, settings](request& req, respond_fn respond) {
        // The body is taken out of the request: it may be megabytes, and only the upload needs it.
        auto body = std::make_shared<std::string>(std::move(req.body));
        auto declared = req.header("content-type");
        auto name = req.header("x-file-name");
        require_user(*a, req, respond, [a, settings, body, declared, name, respond](principal p) {
          upload(a, settings, p, body, declared, name, respond);
        });
      },
      settings.max_bytes);
  routes.add("GET", "/api/v1/files/{id}", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    auto rid = req.request_id;
    if (!is_file_id(id)) {
      respond(problem(404, "Not Found", "no such file"));
      return;
    }
    authenticate(*a, req, [a, id, rid, respond](std::optional<principal> p) {
      download(a, id, rid, p, respond);
    });
  });
}

}  // namespace mext::http
