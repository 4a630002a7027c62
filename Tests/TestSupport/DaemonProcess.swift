import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The built `cellrigd` running as a process on a scratch directory, for tests that talk to a real daemon over
/// its socket (through `cellrig` or a client).
public final class DaemonProcess: @unchecked Sendable {
    public let directory: URL
    public let socketPath: String
    public let databasePath: String
    private let process: Process

    /// Environment that points `cellrig` at this daemon.
    public var environment: [String: String] { ["CELLRIG_SOCKET": socketPath] }

    private init(directory: URL, process: Process) {
        self.directory = directory
        self.process = process
        socketPath = directory.appendingPathComponent("cellrig.sock").path
        databasePath = directory.appendingPathComponent("cellrig.sqlite").path
    }

    /// Starts cellrigd with the given rig files (file name -> YAML text; the built-in simulated rig when empty) and
    /// waits until `cellrig rigs` gets an answer.
    public static func start(rigFiles: [String: String] = [:]) throws -> DaemonProcess {
        let directory = try TestSupport.scratchDirectory()
        var arguments = ["--state-dir", directory.path, "--log-level", "warning"]
        if !rigFiles.isEmpty {
            let rigs = directory.appendingPathComponent("rigs")
            try FileManager.default.createDirectory(at: rigs, withIntermediateDirectories: true)
            for (name, text) in rigFiles {
                try text.write(to: rigs.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            arguments += ["--rigs", rigs.path]
        }
        let process = Process()
        process.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrigd")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let daemon = DaemonProcess(directory: directory, process: process)
        for _ in 0..<600 {
            if try TestSupport.runProduct("cellrig", ["rigs"], environment: daemon.environment).status == 0 {
                return daemon
            }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        daemon.stop()
        throw StartFailure(description: "cellrigd did not answer on \(daemon.socketPath)")
    }

    /// Stops the daemon with SIGTERM and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    /// Runs `cellrig` against this daemon.
    public func cellrig(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.runProduct("cellrig", arguments, environment: environment)
    }

    /// The daemon did not come up.
    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }
}

extension TestSupport {
    /// The seed CCD protocol started at 1 mA/cm2 and raised by 1 mA/cm2 a cycle: the simulated K cell still shorts
    /// (at 5 mA/cm2, its first step above 4.8), within about 8,000 samples instead of 230,000, which keeps tests that
    /// only need a stopped run light on a shared machine.
    public static func quickCCDProtocol() throws -> String {
        let text = try readRepositoryFile("protocols/ccd-step-symmetric.yaml")
        let quick = text.replacingOccurrences(of: "values: [0.05 mA/cm2, 0.1 mA/cm2]", with: "values: [1 mA/cm2]")
            .replacingOccurrences(of: "increment: 0.1 mA/cm2", with: "increment: 1 mA/cm2")
        precondition(quick != text, "protocols/ccd-step-symmetric.yaml no longer has the schedule this expects")
        return quick
    }

    /// Writes ``quickCCDProtocol()`` into `directory` and returns the file's path.
    public static func writeQuickCCDProtocol(into directory: URL) throws -> String {
        let file = directory.appendingPathComponent("ccd-quick.yaml")
        try quickCCDProtocol().write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}
