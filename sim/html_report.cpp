#include "sim/html_report.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace mext::sim {
namespace {

using njson = nlohmann::json;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct line {
  std::string name;
  std::string color;
  std::vector<double> values;
};

// A line chart of the series over seconds, with its axis maximum labelled.
std::string chart(const std::string& title, const std::string& unit,
                  const std::vector<line>& lines) {
  const double w = 640, h = 200, left = 56, bottom = 24, top = 24;
  size_t n = 0;
  double max = 0;
  for (auto& l : lines) {
    n = std::max(n, l.values.size());
    for (double v : l.values) max = std::max(max, v);
  }
  if (max <= 0) max = 1;
  std::string svg = "<figure><figcaption>" + escape(title) + "</figcaption><svg width=\"" +
                    num(w, 0) + "\" height=\"" + num(h, 0) + "\" role=\"img\" aria-label=\"" +
                    escape(title) + "\">";
  svg += "<line x1=\"" + num(left, 0) + "\" y1=\"" + num(h - bottom, 0) + "\" x2=\"" + num(w, 0) +
         "\" y2=\"" + num(h - bottom, 0) + "\" stroke=\"#888\"/>";
  svg += "<line x1=\"" + num(left, 0) + "\" y1=\"" + num(top, 0) + "\" x2=\"" + num(left, 0) +
         "\" y2=\"" + num(h - bottom, 0) + "\" stroke=\"#888\"/>";
  svg += "<text x=\"4\" y=\"" + num(top + 4, 0) + "\" font-size=\"11\">" + num(max) + " " +
         escape(unit) + "</text>";
  svg += "<text x=\"4\" y=\"" + num(h - bottom, 0) + "\" font-size=\"11\">0</text>";
  svg += "<text x=\"" + num(w - 60, 0) + "\" y=\"" + num(h - 6, 0) + "\" font-size=\"11\">" +
         num(static_cast<double>(n), 0) + " s</text>";
  double legend_x = left + 8;
  for (auto& l : lines) {
    std::string pts;
    for (size_t i = 0; i < l.values.size(); ++i) {
      double x =
          left + (n > 1 ? (w - left - 8) * static_cast<double>(i) / static_cast<double>(n - 1) : 0);
      double y = (h - bottom) - (h - bottom - top) * (l.values[i] / max);
      pts += num(x) + "," + num(y) + " ";
    }
    svg += "<polyline fill=\"none\" stroke=\"" + l.color + "\" stroke-width=\"1.5\" points=\"" +
           pts + "\"/>";
    svg += "<text x=\"" + num(legend_x, 0) + "\" y=\"14\" font-size=\"11\" fill=\"" + l.color +
           "\">" + escape(l.name) + "</text>";
    legend_x += 90;
  }
  return svg + "</svg></figure>\n";
}

std::vector<double> column(const njson& series, const char* key) {
  std::vector<double> out;
  for (auto& p : series) out.push_back(p.at(key).get<double>());
  return out;
}

}  // namespace

std::string html_report(const njson& r) {
  auto& sc = r.at("scenario");
  auto& m = r.at("machine");
  bool passed = r.at("passed").get<bool>();
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mext-sim: " +
      escape(sc.at("name").get<std::string>()) +
      "</title><style>body{font-family:sans-serif;max-width:60rem;margin:1rem auto;color:#222}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
      "th:first-child,td:first-child{text-align:left}.pass{color:#1a7f37}.fail{color:#c62828}"
      "figure{margin:1rem 0}figcaption{font-weight:bold}</style></head><body>\n";
  h += "<h1>" + escape(sc.at("name").get<std::string>()) + "</h1>\n<p>" +
       escape(sc.at("description").get<std::string>()) + "</p>\n";
  h += "<p>" + num(sc.at("visitors").get<double>(), 0) + " visitors, " +
       num(sc.at("booths").get<double>(), 0) + " booths, " +
       num(sc.at("duration_s").get<double>(), 0) + " s, " +
       num(sc.at("connections").get<double>(), 0) + " connections; target " +
       escape(r.at("target").get<std::string>()) + ", shard " +
       escape(r.at("shard").get<std::string>()) +
       ".<br>Machine: " + escape(m.at("cpu").get<std::string>()) + ", " +
       num(m.at("nproc").get<double>(), 0) + " cores, kernel " +
       escape(m.at("kernel").get<std::string>()) + ".</p>\n";
  h += std::string("<h2 class=\"") + (passed ? "pass\">Passed" : "fail\">Not passed") +
       "</h2>\n<ul>";
  for (auto& f : r.at("failed_criteria")) h += "<li>" + escape(f.get<std::string>()) + "</li>";
  h += "<li>" + num(r.at("operations").get<double>(), 0) + " operations in " +
       num(r.at("elapsed_s").get<double>()) + " s (" + num(r.at("throughput_ops_s").get<double>()) +
       "/s); " + num(r.at("checked_messages").get<double>(), 0) +
       " acknowledged messages checked, " + num(r.value("checked_meetings", 0.0), 0) +
       " booked meetings and " + num(r.value("checked_agendas", 0.0), 0) + " agendas checked, " +
       num(r.at("violations").get<double>(), 0) + " violations; " +
       num(r.at("late_starts").get<double>(), 0) +
       " operations started over 100 ms late; simulator CPU " +
       num(r.at("sim_cpu_percent").get<double>()) + "% of one core.</li>";
  if (r.contains("delivery") && r.at("delivery").at("count").get<double>() > 0) {
    auto& d = r.at("delivery");
    h += "<li>Delivery from acknowledgement to the probes: p50 " +
         num(d.at("p50_ms").get<double>()) + " ms, p99 " + num(d.at("p99_ms").get<double>()) +
         " ms, max " + num(d.at("max_ms").get<double>()) + " ms; every member had every message " +
         num(r.value("drain_s", 0.0)) + " s after the last operation" +
         (r.value("drain_complete", true) ? "" : " (the wait gave up)") + ".</li>";
  }
  for (auto& v : r.at("violation_notes")) h += "<li>" + escape(v.get<std::string>()) + "</li>";
  h += "</ul>\n<table><tr><th>operation</th><th>ok</th><th>errors</th><th>p50 ms</th>"
       "<th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>\n";
  for (auto& [name, op] : r.at("ops").items()) {
    std::string errors;
    for (auto& [k, n] : op.at("errors").items())
      errors += (errors.empty() ? "" : ", ") + k + ": " + std::to_string(n.get<uint64_t>());
    h += "<tr><td>" + escape(name) + "</td><td>" + num(op.at("ok").get<double>(), 0) + "</td><td>" +
         escape(errors.empty() ? "0" : errors) + "</td>";
    for (auto k : {"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"})
      h += "<td>" + num(op.at(k).get<double>()) + "</td>";
    h += "</tr>\n";
  }
  h += "</table>\n";
  auto& series = r.at("series");
  h += chart(
      "Latency of successful operations, per second", "ms",
      {{"p50", "#1565c0", column(series, "p50_ms")}, {"p99", "#c62828", column(series, "p99_ms")}});
  h += chart("Throughput", "ops/s", {{"ok", "#1a7f37", column(series, "ok")}});
  h += chart("Visitors arrived", "visitors",
             {{"arrived", "#6a1b9a", column(series, "visitors_arrived")}});
  h += chart("Errors", "per s", {{"errors", "#c62828", column(series, "errors")}});
  h += "</body></html>\n";
  return h;
}

}  // namespace mext::sim
