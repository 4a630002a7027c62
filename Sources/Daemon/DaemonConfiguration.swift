import ControlServer
import Domain
import Foundation
import ProtocolFiles

/// Where the daemon listens, where it keeps its data, and which rigs it drives.
public struct DaemonConfiguration: Sendable {
    public var socketPath: String
    public var databasePath: String
    public var rigs: [RigDescription]
    /// File mode of the control socket: who may command the rigs (owner and group by default).
    public var socketMode: UInt32
    /// The most disk the database may take; beyond it writes fail as on a full disk (nil: no cap).
    public var maximumDatabaseSize_bytes: Int?
    /// The folder the rigs were read from, read again on SIGHUP (nil: the built-in rig, nothing to reload).
    public var rigDirectory: String?
    /// The `sync:` section of the configuration file: copy every row into the lab's central PostgreSQL database.
    public var sync: FleetSyncSettings?
    /// Where run ends, faults and pauses are reported (the configuration file's `notify:`; nil: nowhere).
    public var notify: NotifySettings?
    /// Timeouts and the connection limit of the control socket.
    public var serverLimits = ControlServerLimits()

    public init(
        socketPath: String, databasePath: String, rigs: [RigDescription], socketMode: UInt32 = 0o660,
        sync: FleetSyncSettings? = nil
    ) {
        self.socketPath = socketPath
        self.databasePath = databasePath
        self.rigs = rigs
        self.socketMode = socketMode
        self.sync = sync
    }

    public static let defaultSocketPath = "/run/cellrig/cellrig.sock"
    public static let defaultDatabasePath = "/var/lib/cellrig/cellrig.sqlite"

    /// The built-in simulated rig (`rigs/sim.yaml`).
    public static func embeddedSimulatedRig() throws(FileError) -> RigDescription {
        try loadRig(text: EmbeddedRigs.sim, file: EmbeddedRigs.simFileName)
    }

    /// Every built-in simulated rig (`sim` and the seeds' cells), used when no rig directory is given.
    public static func embeddedSimulatedRigs() throws(FileError) -> [RigDescription] {
        var rigs: [RigDescription] = []
        for (file, text) in EmbeddedRigs.all { rigs.append(try loadRig(text: text, file: file)) }
        return rigs
    }

    /// Parses a rig file and checks what only the daemon can check (the simulated model's parameters).
    public static func loadRig(text: String, file: String) throws(FileError) -> RigDescription {
        let rig = try RigFile.parse(text, file: file)
        try SimulatedCells.validate(rig, rigFile: file)
        return rig
    }

    /// Every `*.yaml` file of `directory` as a rig, and the files that could not be read, each with its error: a
    /// reload keeps going past a bad file. Rig ids must be unique (a later file reusing an id is an error).
    public static func loadRigsFileByFile(directory: String) -> (rigs: [RigDescription], errors: [FileError]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            let problem = "cannot list the rig directory: \(error.localizedDescription)"
            return ([], [FileError(file: directory, problem: problem)])
        }
        var rigs: [RigDescription] = []
        var errors: [FileError] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                let rig = try loadRig(text: try readRigFile(path), file: path)
                if rigs.contains(where: { $0.id == rig.id }) {
                    throw FileError(
                        file: path, key: "id", value: rig.id, problem: "rig id '\(rig.id)' is used by another file")
                }
                rigs.append(rig)
            } catch let error as FileError {
                errors.append(error)
            } catch {
                errors.append(FileError(file: path, problem: "\(error)"))
            }
        }
        return (rigs, errors)
    }

    private static func readRigFile(_ path: String) throws(FileError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw FileError(file: path, problem: "cannot read: \(error.localizedDescription)")
        }
    }

    /// Loads every `*.yaml` file of `directory` as a rig; rig ids must be unique.
    public static func loadRigs(directory: String) throws -> [RigDescription] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw FileError(file: directory, problem: "cannot list the rig directory: \(error.localizedDescription)")
        }
        guard !names.isEmpty else {
            throw FileError(file: directory, problem: "no rig files (*.yaml) in this directory")
        }
        var rigs: [RigDescription] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            // Read as bytes within the rig-file limit, checked as UTF-8 (an error names the bad byte's line).
            let text = try SourceText.read(path: path)
            let rig = try loadRig(text: text, file: path)
            if rigs.contains(where: { $0.id == rig.id }) {
                throw FileError(
                    file: path, key: "id", value: rig.id, problem: "rig id '\(rig.id)' is used by another file")
            }
            rigs.append(rig)
        }
        return rigs
    }
}
