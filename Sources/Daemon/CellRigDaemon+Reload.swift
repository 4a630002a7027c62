import Domain
import Logging
import ProtocolFiles

/// What a reload of the rig folder did, for the log and for tests.
struct ReloadReport: Sendable, Hashable {
    var added: [String] = []
    var changed: [String] = []
    /// Changed while running: the new description applies when the run ends.
    var deferred: [String] = []
    var removed: [String] = []
    /// Files that could not be read, with the error; the rigs loaded before keep their description.
    var errors: [String] = []
}

extension CellRigDaemon {
    /// Reads the rig folder again (SIGHUP): new rigs appear, changed idle rigs change, rigs with an active run keep
    /// their description until the run ends, and removed rigs take no new run. A file with an error is reported and
    /// changes nothing: its rig, if loaded before, keeps its description.
    @discardableResult
    func reload() async -> ReloadReport {
        var report = ReloadReport()
        guard let directory = configuration.rigDirectory else {
            logger.notice("reload: the daemon runs the built-in rig (no --rigs folder); nothing to reload")
            return report
        }
        let (rigs, errors) = DaemonConfiguration.loadRigsFileByFile(directory: directory)
        report.errors = errors.map(\.description)
        for error in errors { logger.error("reload: \(error.description); the rigs loaded before are unchanged") }
        for rig in rigs {
            guard let runner = runners[rig.id] else {
                runners.add(RigRunner(rig: rig, services: services))
                report.added.append(rig.id)
                continue
            }
            guard await runner.rig != rig else { continue }
            if await runner.reloadDescription(rig) {
                report.changed.append(rig.id)
            } else {
                report.deferred.append(rig.id)
            }
        }
        // A rig whose file is gone is removed (one that is running finishes its run first); not while any file has
        // an error, since a broken file may be the rig's own.
        let listed = Set(rigs.map(\.id))
        for runner in runners.all where errors.isEmpty && !listed.contains(runner.rigID) {
            if await runner.isIdle {
                runners.remove(id: runner.rigID)
            } else {
                await runner.retire()
            }
            report.removed.append(runner.rigID)
        }
        logger.notice(
            "reload of \(directory): added \(report.added), changed \(report.changed), changing after their runs \(report.deferred), removed \(report.removed), \(report.errors.count) file(s) with errors"
        )
        return report
    }
}
