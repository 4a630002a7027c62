import Control
import FleetSync
import Foundation
import Storage

extension CellRigDaemon {
    /// `GET /v1/sync`: the sync service's state, with the backlog counted now from the database (so it is right
    /// while the central server is away).
    public func sync() async throws -> SyncStatusInfo {
        guard let fleetSync else { return SyncStatusInfo(configured: false) }
        let status = fleetSync.status
        let backlog = try await store.syncBacklog()
        let now = Date()
        return SyncStatusInfo(
            configured: true, daemon_id: status.daemonID, server: status.server, connected: status.connected,
            schema_version: status.schemaVersion, last_round_at: status.lastRoundAt.map(Self.text),
            synced_through: status.syncedThrough.map(Self.text),
            lag_s: status.syncedThrough.map { max(0, now.timeIntervalSince($0)) },
            pending_samples: backlog.samples, pending_events: backlog.events, pending_changes: backlog.changes,
            pending_runs: backlog.runs, last_error: status.lastError, last_error_at: status.lastErrorAt.map(Self.text),
            consecutive_failures: status.consecutiveFailures, next_attempt_at: status.nextAttemptAt.map(Self.text),
            sent_samples: status.sentSamples, sent_events: status.sentEvents, sent_changes: status.sentChanges)
    }

    private static func text(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
