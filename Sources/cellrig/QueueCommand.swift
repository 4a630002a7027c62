import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig queue`: protocols waiting for a rig, started in order as it becomes free.
struct Queue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue protocols on a rig: they start in order as the rig becomes free.",
        discussion: """
            A run that ends completed lets the queue go on; one a stop criterion ended lets it go on only if its \
            protocol says `then: continue` (or `queue add --then continue`); a faulted, aborted or interrupted run \
            always holds it. A held queue waits for `cellrig queue release --rig R`.
            """,
        subcommands: [Add.self, List.self, Remove.self, Release.self],
        defaultSubcommand: List.self)

    /// `cellrig queue add PROTOCOL --rig R`.
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a protocol at the end of a rig's queue (it starts at once if the rig is free).")

        @Argument(help: "Protocol file (sent to the daemon as text).")
        var protocolFile: String

        @Option(help: "Rig id (see `cellrig rigs`).")
        var rig: String

        @Option(help: "Label of the cell under test (sample id), recorded with the run.")
        var cell: String?

        @Option(help: "Working-electrode area in cm2, if it differs from the rig file's.")
        var areaCm2: Double?

        @Option(
            help: ArgumentHelp(
                "What the queue does after this run if a criterion stops it: continue or hold (default: the "
                    + "protocol's then:, itself hold by default).", valueName: "continue|hold"))
        var then: String?

        @OptionGroup var parameterOptions: ParameterOptions
        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Print the entry as JSON.")
        var json = false

        func validate() throws {
            if let then, QueuePolicy(rawValue: then) == nil {
                throw ValidationError("--then '\(then)' is not continue or hold")
            }
        }

        func run() throws {
            let text = try readText(protocolFile)
            let parameters = try parameterOptions.parameters()
            _ = try ProtocolFile.parse(text, file: protocolFile, parameters: parameters)
            let request = QueueAddRequest(
                protocol_file: protocolFile, protocol_text: text, rig: rig, cell_label: cell, area_cm2: areaCm2,
                parameters: parameters, then: then)
            let entry = try connection.client.send(try .enqueue(request))
            if json { return try printJSON(entry) }
            if let runID = entry.run_id {
                print("queue entry \(entry.id): \(entry.protocol_name) started at once as run \(runID)")
            } else {
                print("queue entry \(entry.id): \(entry.protocol_name) waits on rig \(entry.rig) (then: \(entry.then))")
            }
        }
    }

    /// `cellrig queue list [--rig R]`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the queues, held or not, and their entries.")

        @Option(help: "Only this rig's queue.")
        var rig: String?

        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Print JSON: an array of queues, one per rig, as GET /v1/queue gives them.")
        var json = false

        func run() throws {
            let queues = try connection.client.send(.queues(rig: rig))
            if json { return try printJSON(queues) }
            for queue in queues { print(Queue.describe(queue)) }
        }
    }

    /// `cellrig queue remove ID`.
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a waiting entry out of its queue.")

        @Argument(help: "Queue entry id (see `cellrig queue list`).")
        var entryID: Int64

        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Print the removed entry as JSON.")
        var json = false

        func run() throws {
            let entry = try connection.client.send(.dequeue(entryID))
            if json { return try printJSON(entry) }
            print("queue entry \(entry.id) (\(entry.protocol_name)) removed from rig \(entry.rig)'s queue")
        }
    }

    /// `cellrig queue release --rig R`.
    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a held queue go on: its next entry starts when the rig is free.")

        @Option(help: "Rig id.")
        var rig: String

        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Print the rig's queue as JSON.")
        var json = false

        func run() throws {
            let queue = try connection.client.send(try .releaseQueue(rig: rig))
            if json { return try printJSON(queue) }
            print("queue of rig \(rig) released")
            print(Queue.describe(queue))
        }
    }

    static func describe(_ queue: RigQueueInfo) -> String {
        var lines = ["rig \(queue.rig): " + (queue.held ? "held" : "goes on") + ", \(queue.entries.count) entries"]
        if let reason = queue.hold_reason { lines.append("  held: \(reason)") }
        for entry in queue.entries {
            var line =
                "  \(entry.id)\t\(entry.state)\t\(entry.protocol_name)\t\(entry.protocol_file)\tthen \(entry.then)"
            if let runID = entry.run_id { line += "\trun \(runID)" }
            if !entry.parameters.isEmpty {
                line +=
                    "\t"
                    + entry.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    .joined(separator: " ")
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
