import Domain
import Foundation
import Storage
import TestSupport
import Testing

@Suite("Run summaries in pages")
struct RunSummaryTests {
    @Test("3,000 runs page newest first without gaps or repeats; a summary counts the samples stored")
    func pages() throws {
        let directory = try TestSupport.scratchDirectory()
        let store = try RunStore(path: directory.appendingPathComponent("db.sqlite").path)
        let start = RunStoreTests().makeStart()
        for _ in 0..<3000 { _ = try store.createRun(start, threeElectrode: false) }
        let samples = (0..<700).map { index in
            RecordedSample(
                seq: index,
                sample: InstrumentSample(
                    time_s: Double(index), current_A: -1e-5, voltage_V: -0.1, voltageWERE_V: nil, pressure_MPa: nil,
                    temperature_C: nil),
                stepIndex: 0, cycle: 1)
        }
        try store.append(runID: 2999, samples: samples, steps: [], events: [])
        try store.finishRun(2999, outcome: RunOutcome(state: .stopped, reason: "short", ccd_mA_cm2: 4.8))

        var seen: [Int64] = []
        var before: Int64?
        repeat {
            let page = try store.runSummaries(limit: 250, before: before)
            seen += page.map(\.id)
            before = page.count == 250 ? page.last?.id : nil
        } while before != nil
        #expect(seen == Array((1...3000).reversed()))
        let one = try #require(try store.runSummaries(limit: 1, before: 3000).first)
        #expect(one.id == 2999 && one.state == .stopped && one.ccd_mA_cm2 == 4.8 && one.endReason == "short")
        #expect(one.samples == 700 && one.protocolName == "t" && one.rigID == "sim")
        #expect(try store.runSummaries(limit: 1, before: 2999).first?.samples == 0)
    }
}
