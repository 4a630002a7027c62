import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig`: the command-line client of cellrigd, and offline tools for protocol files and recorded data.
@main
struct CellRigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cellrig",
        abstract: "Control cellrigd and work with test protocols and recorded runs.",
        discussion: """
            Commands that talk to the daemon use its socket (--socket, or CELLRIG_SOCKET, default \
            \(defaultSocketPath)). validate, plan, criteria, export, replay, fit and report work without a daemon; \
            fleet reads the lab's central PostgreSQL database.
            """,
        version: CellRigVersion.current,
        subcommands: [
            Validate.self, Plan.self, Criteria.self, Rigs.self, Ports.self, Start.self, Status.self, Runs.self,
            Watch.self,
            Abort.self, Resume.self, Queue.self, Export.self, ReplayRun.self, Fit.self, Report.self, Open.self,
            Fleet.self,
            Sync.self,
        ])

    /// Runs the chosen command. With `--json`, a failure is also printed on standard output as one JSON object
    /// `{"error": "..."}`, so what a script reads there is always JSON.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if CommandLine.arguments.dropFirst().contains("--json"), !(error is ExitCode), !(error is CleanExit) {
                printJSONLine(ErrorBody(error: message(for: error)))
            }
            exit(withError: error)
        }
    }
}

let defaultSocketPath = "/run/cellrig/cellrig.sock"
let defaultDatabasePath = "/var/lib/cellrig/cellrig.sqlite"

/// The daemon's socket, for commands that talk to it.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Path of cellrigd's control socket (default: $CELLRIG_SOCKET or \(defaultSocketPath)).")
    var socket: String?

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["CELLRIG_SOCKET"] ?? defaultSocketPath
    }

    var client: ControlClient { ControlClient(socketPath: socketPath) }
}

/// `--set name=value` pairs for a protocol's `parameters:`.
struct ParameterOptions: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Give a protocol parameter a value, e.g. --set current_density='3 mA/cm2' (repeatable).",
            valueName: "name=value"))
    var assignments: [String] = []

    func parameters() throws -> [String: String] {
        var parameters: [String: String] = [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError("--set '\(assignment)' is not name=value")
            }
            parameters[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        return parameters
    }
}

/// Errors that end a command with a message for the operator and exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Reads a text file the operator named, checked as UTF-8 (an error names the bad byte's line and column), within
/// `limit` bytes: by default the limit of protocol files, which is all this reads but impedance CSVs.
func readText(_ path: String, limit: Int = FileLimits.maximumFileSize) throws -> String {
    do {
        return try SourceText.read(path: path, limit: limit)
    } catch {
        throw CommandFailure(error.description)
    }
}

/// Prints one JSON document (pretty, keys sorted).
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints one JSON value on one line (for streams: one line per message) and flushes it at once, so a reader at
/// the other end of a pipe gets it while the command goes on.
func printJSONLine<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data =
        (try? encoder.encode(value))
        ?? Data(#"{"error":"cellrig could not encode this message as JSON"}"#.utf8)
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}
