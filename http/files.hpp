#pragma once
// Uploaded files: POST /api/v1/files and GET /api/v1/files/{id}.
//
// Storage. A file lives in LMDB (db::indexes) under "file/<file_id>", written through the store
// actor, as a small plain header and the bytes (layout in files.cpp). The bytes and the name are
// sealed for the uploader through the field_sealer, like every personal field, so erasure can
// crypto-shred them once sealing has keys.
//
// Checks on upload. The body is at most file_settings::max_bytes (413; the server's
// max_body_bytes bounds it too). Its type is sniffed from the first bytes and must be on the allow
// list (415); a declared Content-Type other than application/octet-stream must agree with it (415).
// X-File-Name is metadata only, never a path: invalid UTF-8, control characters, '/', '\\', "." and
// ".." are refused (400); the name is only echoed back in JSON and in Content-Disposition.
//
// Who reads a file (GET /files/{id}):
//   - its uploader, and administrators;
//   - anyone, signed in or not, once it is attached to booth content (booth content is public);
//   - the readers of a chat room (every signed-in user for a booth room, the two members and
//     administrators for a direct room) once it is attached to a message of that room;
//   - nobody else: 401 when anonymous, 403 when signed in.
// Only the uploader (or an administrator) may attach a file, so nobody can publish another
// person's file by attaching it. Attachments are recorded as "fileref/<file_id>/<target_id>" ->
// "booth" | "room" in db::indexes, after the content or message that holds the file is durable.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/caller.hpp"
#include "actors/privacy_actor.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "persistence/field_sealer.hpp"

namespace mext::http {

struct file_settings {
  // Largest accepted upload, in bytes.
  std::size_t max_bytes = std::size_t{10} << 20;
  // Sniffed types that may be stored.
  std::vector<std::string> allowed_types = {"image/png",  "image/jpeg",      "image/gif",
                                            "image/webp", "application/pdf", "video/mp4",
                                            "text/plain"};
};

// The media type of `bytes` judged from their first bytes: image/png, image/jpeg, image/gif,
// image/webp, application/pdf, video/mp4 (ISO base media with an MP4 brand), or text/plain
// (valid UTF-8 without control characters but tab, CR, LF and FF); empty when none of these.
std::string sniff_content_type(std::string_view bytes);

// An X-File-Name as stored: at most 255 bytes of UTF-8 without control characters (bidirectional
// overrides included) or path separators, and not "." or ".."; invalid_argument saying why.
caf::expected<std::string> check_file_name(std::string_view name);

// A stored file, opened.
struct stored_file {
  std::string file_id;
  std::string owner_id;
  std::string content_type;
  std::string name;
  int64_t created_at_ms = 0;
  std::string bytes;
};

// The LMDB key of a file, and of one of its attachments.
std::string file_key(std::string_view file_id);
std::string file_ref_key(std::string_view file_id, std::string_view target_id);
std::string files_of_key(std::string_view person, std::string_view file_id);

// The record of a file (header and sealed bytes), and back; a damaged record is corrupt_record.
caf::expected<std::string> encode_file_record(persistence::field_sealer& sealer,
                                              const stored_file& f);
caf::expected<stored_file> decode_file_record(persistence::field_sealer& sealer,
                                              std::string_view file_id, std::string_view record);

// Whether `c` may attach `file_id` to content or a message: not_found for an unknown file,
// invalid_argument for something that is not a file id, forbidden unless `c` uploaded it or is
// an administrator. Reads LMDB on the calling thread (short, memory-mapped).
caf::error check_attachable(const api& a, const actors::caller& c, const std::string& file_id);

// Durably records that `file_id` is attached to `target_id` (a booth id with kind "booth", a room
// id with kind "room"), then calls `done` from another thread with the error, if any.
void record_attachment(const api& a, const std::string& file_id, const std::string& target_id,
                       const std::string& kind, std::function<void(caf::error)> done);

// The uploads of `person`, indexed under "files_of/<person>\0<file id>" at upload: what their
// export lists (with a link to each), and the ops that delete the files, their attachments and
// the index entries (their erasure). Both read LMDB on the calling thread.
caf::expected<std::vector<actors::personal_record>> files_export_of(const actors::engine& eng,
                                                                    const std::string& person);
caf::expected<actors::local_erasure> files_erasure_of(const actors::engine& eng,
                                                      const std::string& person);

// POST /api/v1/files and GET /api/v1/files/{id}. add_catalog_routes registers them with the
// default settings; the overload below takes others.
void add_file_routes(router& routes, std::shared_ptr<api> a, file_settings settings);

// The catalog route group (routes.hpp) with file settings other than the defaults.
void add_catalog_routes(router& routes, std::shared_ptr<api> a, file_settings files);

}  // namespace mext::http
