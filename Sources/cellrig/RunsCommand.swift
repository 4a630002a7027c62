import ArgumentParser
import Control
import Foundation

/// `cellrig runs`: the daemon's runs, newest first, page after page.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the daemon's runs, newest first (one line each; cellrig status RUN shows one in full).")

    @Option(help: "Show at most this many runs.")
    var limit: Int = 50

    @Flag(help: "Show every run (follows the pages to the oldest).")
    var all = false

    @Option(help: "Only runs older than this run id.")
    var before: Int64?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON: an array of run summaries as GET /v1/runs gives them, all pages joined.")
    var json = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        var runs: [RunSummary] = []
        var cursor = before
        let pageSize = ControlRoute.runPageSizes.upperBound
        repeat {
            let wanted = all ? pageSize : min(pageSize, limit - runs.count)
            let page = try connection.client.send(.runs(limit: wanted, before: cursor))
            runs += page.runs
            cursor = page.next_before
            if !json {
                for summary in page.runs { print(RunDescription.summaryLine(summary)) }
            }
        } while cursor != nil && (all || runs.count < limit)
        if json { try printJSON(runs) }
    }
}
