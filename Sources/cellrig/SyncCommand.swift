import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig sync status`: the daemon's copy in the lab's central database, and how far behind it is.
struct Sync: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon's sync into the lab's central PostgreSQL database.",
        subcommands: [SyncStatus.self])
}

/// `cellrig sync status`: asks the daemon (`GET /v1/sync`).
struct SyncStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the daemon's sync lag: rows not yet sent, last round, last error.")

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let status = try connection.client.request("GET", "/v1/sync", as: SyncStatusInfo.self)
        if json { return try printJSON(status) }
        print(Self.describe(status))
    }

    static func describe(_ status: SyncStatusInfo) -> String {
        guard status.configured else {
            return "sync: not configured (add a sync: section to the daemon's configuration; see docs/fleet.md)"
        }
        var lines = [
            "sync: daemon '\(status.daemon_id ?? "?")' to \(status.server ?? "?")"
                + (status.connected ? " (connected)" : " (not connected)")
        ]
        let pending = status.pending_samples + status.pending_events + status.pending_changes
        lines.append(
            pending == 0
                ? "  pending: nothing"
                : "  pending: \(status.pending_samples) samples, \(status.pending_events) events, "
                    + "\(status.pending_changes) changed rows, in runs "
                    + status.pending_runs.map(String.init).joined(separator: ", "))
        if let lag = status.lag_s, let through = status.synced_through {
            lines.append("  lag: \(formatDuration(lag)) (everything stored before \(through) is sent)")
        } else {
            lines.append("  lag: nothing sent yet")
        }
        lines.append(
            "  sent since the daemon started: \(status.sent_samples) samples, \(status.sent_events) events, "
                + "\(status.sent_changes) changed rows")
        if let error = status.last_error {
            var line = "  last error (\(status.consecutive_failures) in a row, at \(status.last_error_at ?? "?")): "
            line += error
            if let next = status.next_attempt_at { line += "; next attempt at \(next)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
