#define BOOST_TEST_MODULE isp_database
#include <boost/test/unit_test.hpp>

// The ISP lookup of connection records (http/isp_database.hpp) on a MaxMind DB written by the
// test from the published format, through the real libmaxminddb.

#include <fstream>
#include <string>

#include "http/isp_database.hpp"
#include "persistence/errors.hpp"
#include "tests/support/mmdb_writer.hpp"
#include "tests/test_support.hpp"

using mext::http::isp_database;

BOOST_AUTO_TEST_CASE(addresses_in_a_network_get_its_isp_and_others_nothing) {
  mext::test::temp_dir dir;
  auto file = dir.path() / "isp.mmdb";
  mext::test::write_isp_mmdb(file, {{"203.0.113.0/24", "Example Transit"},
                                    {"198.51.100.128/25", "Doc Net Upper"},
                                    {"127.0.0.0/8", "Loopback Networks"}});
  auto db = isp_database::open(file);
  BOOST_REQUIRE_MESSAGE(db, mext::detail_of(db.error()));
  BOOST_TEST((*db)->lookup("203.0.113.7").value_or("-") == "Example Transit");
  BOOST_TEST((*db)->lookup("203.0.113.255").value_or("-") == "Example Transit");
  BOOST_TEST((*db)->lookup("198.51.100.200").value_or("-") == "Doc Net Upper");
  BOOST_TEST(!(*db)->lookup("198.51.100.5"));
  BOOST_TEST((*db)->lookup("127.0.0.1").value_or("-") == "Loopback Networks");
  BOOST_TEST(!(*db)->lookup("192.0.2.1"));
  BOOST_TEST(!(*db)->lookup("not an address"));
  BOOST_TEST(!(*db)->lookup(""));
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_maxmind_database_is_refused_with_its_name) {
  mext::test::temp_dir dir;
  auto file = dir.path() / "garbage.mmdb";
  std::ofstream(file) << "this is not a database";
  auto db = isp_database::open(file);
  BOOST_REQUIRE(!db);
  BOOST_TEST((mext::code_of(db.error()) == mext::errc::invalid_argument));
  BOOST_TEST(mext::detail_of(db.error()).find("garbage.mmdb") != std::string::npos);
  BOOST_TEST(!isp_database::open(dir.path() / "missing.mmdb"));
}
