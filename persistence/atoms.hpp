#pragma once
// Every atom of the engine's actor interfaces, in one place so that no two mean different things.
// CAF 0.17 atoms hold at most 10 characters.

#include <caf/atom.hpp>

namespace mext {

using commit_atom = caf::atom_constant<caf::atom("commit")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using backup_atom = caf::atom_constant<caf::atom("backup")>;

using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using activate_atom = caf::atom_constant<caf::atom("activate")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using busy_atom = caf::atom_constant<caf::atom("busy")>;
using leaving_atom = caf::atom_constant<caf::atom("leaving")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;

using create_atom = caf::atom_constant<caf::atom("create")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using password_atom = caf::atom_constant<caf::atom("password")>;
using grant_atom = caf::atom_constant<caf::atom("grant")>;
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;
using add_atom = caf::atom_constant<caf::atom("add")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using post_atom = caf::atom_constant<caf::atom("post")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using visit_atom = caf::atom_constant<caf::atom("visit")>;
using content_atom = caf::atom_constant<caf::atom("content")>;
using booth_atom = caf::atom_constant<caf::atom("booth")>;
using session_atom = caf::atom_constant<caf::atom("session")>;
using media_atom = caf::atom_constant<caf::atom("media")>;
using attend_atom = caf::atom_constant<caf::atom("attend")>;
using meeting_atom = caf::atom_constant<caf::atom("meeting")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;
using record_atom = caf::atom_constant<caf::atom("record")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;
using member_atom = caf::atom_constant<caf::atom("member")>;
using mention_atom = caf::atom_constant<caf::atom("mention")>;
using catch_up_atom = caf::atom_constant<caf::atom("catchup")>;

// WebSocket sessions (http/ws_session_actor.hpp).
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using authed_atom = caf::atom_constant<caf::atom("authed")>;
using ended_atom = caf::atom_constant<caf::atom("ended")>;

// Every holder of personal data answers these two (the privacy sagas drive them).
using export_atom = caf::atom_constant<caf::atom("export")>;
using erase_atom = caf::atom_constant<caf::atom("erase")>;

// The privacy actor (actors/privacy_actor.hpp).
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using archive_atom = caf::atom_constant<caf::atom("archive")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using step_atom = caf::atom_constant<caf::atom("step")>;

// Backups (actors/backup_actor.hpp).
using backup_atom = caf::atom_constant<caf::atom("backup")>;

}  // namespace mext
