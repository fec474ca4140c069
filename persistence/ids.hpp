#pragma once
// Entity ids: "<kind>_<32 hex digits>" with 128 random bits. Ids of things that live inside an
// entity (a session in an exhibition, a meeting in an agenda) are "<owner id>.<kind>_<hex>", so
// the directory routes them to their owner without an index.

#include <string>
#include <string_view>

namespace mext {

// A new random id of the given kind ("usr", "org", "exh", "bth", "room", ...).
std::string new_id(std::string_view kind);

// A new id that lives inside `owner` (routed to it).
std::string new_child_id(std::string_view owner, std::string_view kind);

// The entity that holds `id`: the part before the first '.', or `id` itself.
std::string_view owner_of(std::string_view id);

// The kind of the entity that holds `id`: the part of owner_of(id) before the first '_'.
std::string_view kind_of(std::string_view id);

// True when `id` is made of the characters ids use, has a kind and is not too long for LMDB.
bool is_valid_id(std::string_view id);

// True when `id` is a valid id of an entity (not of a thing inside one) of the given kind.
bool is_id_of(std::string_view id, std::string_view kind);

// `n` random bytes from OpenSSL as lower-case hex; throws only if the RNG fails.
std::string random_hex(size_t n_bytes);

}  // namespace mext
