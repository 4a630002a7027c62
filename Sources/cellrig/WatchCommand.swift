import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig watch RUN`: live progress until the run ends, then its result.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a run live: cycle, current density, voltage, cell time, progress; ends with the result.",
        discussion: RunExitCode.help)

    @Argument(help: "Run id.")
    var runID: Int64

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Seconds between progress lines.")
    var every: Double = 1

    @Flag(
        help: """
            Print JSON lines: {"progress": ...} at most every --every seconds, {"event": ...} for every run event, \
            and last {"end": ...} with the run's final status.
            """)
    var json = false

    func run() throws {
        var lastLine = ContinuousClock.now - .seconds(3600)
        var final: RunStatus?
        var warnings: [String: Int] = [:]
        let decoder = JSONDecoder()
        try connection.client.stream(ControlRoute.live.path(id: runID)) { event, data in
            switch event {
            case LiveEventName.progress:
                guard ContinuousClock.now - lastLine >= .seconds(every),
                    let progress = try? decoder.decode(RunProgress.self, from: Data(data.utf8))
                else { return true }
                lastLine = ContinuousClock.now
                if json {
                    printJSONLine(WatchLine(progress: progress))
                } else {
                    print(RunDescription.progressLine(progress))
                }
            case LiveEventName.event:
                guard let info = try? decoder.decode(EventInfo.self, from: Data(data.utf8)) else { return true }
                if json {
                    printJSONLine(WatchLine(event: info))
                    return true
                }
                guard ["verdict", "fault", "run-ended", "operator"].contains(info.kind) else { return true }
                if info.action == VerdictAction.warn.rawValue, let criterion = info.criterion {
                    // A warning criterion may speak every step; show its first word, count the rest.
                    warnings[criterion, default: 0] += 1
                    guard warnings[criterion] == 1 else { return true }
                    print("[\(formatDuration(info.time_s))] \(info.message) (further warnings counted)")
                } else {
                    print("[\(formatDuration(info.time_s))] \(info.message)")
                }
            case LiveEventName.end:
                final = try decoder.decode(RunStatus.self, from: Data(data.utf8))
                return false
            case LiveEventName.disconnected:
                let body = try? decoder.decode(ErrorBody.self, from: Data(data.utf8))
                throw CommandFailure("the daemon ended the live stream: \(body?.error ?? data)")
            default:
                break
            }
            return true
        }
        guard let final else { throw CommandFailure("the daemon closed the live stream before run \(runID) ended") }
        if json {
            printJSONLine(WatchLine(end: final))
        } else {
            print(RunDescription.describe(final))
        }
        try RunExitCode.exit(for: final.state)
    }
}

/// One line of `cellrig watch --json`: exactly one of its fields is set.
struct WatchLine: Encodable {
    var progress: RunProgress?
    var event: EventInfo?
    var end: RunStatus?
}
