// Benchmark of the live stop criteria on cell traces with known short onsets, per trace family.
//
//   cellrig-bench-criteria                   every family, all scenarios, cross-family table, timing
//   cellrig-bench-criteria quick             one scenario in three
//   options: family=NAME (physics, kinetic, empirical), only=TEXT (labels containing TEXT), verbose (one line per
//   run), explain=LABEL (every wrong stop or miss of the candidates whose label starts with LABEL), no-timing,
//   no-cross (no tuned candidates, no cross-family table), set=NAME=VALUE (an extra candidate with that tuning constant
//   changed; repeatable)
//
// Each family's cells run two CCD schedules (a symmetric step-current test and a three-electrode plating-step test)
// at 0.1, 1 and 10 s sampling and three reading resolutions, shorted (in each of the family's ways) or short-free.
// The criteria under test only record their stops; each is scored against the cell's true onset: detected (first
// stop at or after it), stopped before it, false alarms (a stop on a short-free cell), and the latency from it in
// samples, seconds and charge.

import Domain
import Engine
import Foundation
import Synchronization

let arguments = CommandLine.arguments.dropFirst()
let quick = arguments.contains("quick")
let verbose = arguments.contains("verbose")
let timing = !arguments.contains("no-timing")
let explain = arguments.filter { $0.hasPrefix("explain=") }.map { String($0.dropFirst(8)) }
let onlyFamilies = arguments.filter { $0.hasPrefix("family=") }.compactMap {
    BenchFamily(rawValue: String($0.dropFirst(7)))
}
let families = onlyFamilies.isEmpty ? BenchFamily.allCases : onlyFamilies

var list: [Scenario] = families.flatMap { scenarios($0) }
if quick { list = list.enumerated().filter { $0.offset % 3 == 0 }.map(\.element) }
for only in arguments where only.hasPrefix("only=") {
    list = list.filter { $0.label.contains(only.dropFirst(5)) }
}

/// `trace=TEXT every=N from=T to=T`: prints the samples of the first scenario whose label contains TEXT, then exits.
if let wanted = arguments.first(where: { $0.hasPrefix("trace=") }).map({ String($0.dropFirst(6)) }) {
    let every = arguments.first { $0.hasPrefix("every=") }.flatMap { Int($0.dropFirst(6)) } ?? 1
    let from = arguments.first { $0.hasPrefix("from=") }.flatMap { Double($0.dropFirst(5)) } ?? 0
    let to = arguments.first { $0.hasPrefix("to=") }.flatMap { Double($0.dropFirst(3)) } ?? .infinity
    if let scenario = list.first(where: { $0.label.contains(wanted) }) {
        try printTrace(scenario, every: every, from: from, to: to)
    }
    exit(0)
}

/// `dump=TEXT from=T to=T`: dendrite-short's view of each sample of the first scenario whose label contains TEXT.
if let wanted = arguments.first(where: { $0.hasPrefix("dump=") }).map({ String($0.dropFirst(5)) }) {
    let from = arguments.first { $0.hasPrefix("from=") }.flatMap { Double($0.dropFirst(5)) } ?? 0
    let to = arguments.first { $0.hasPrefix("to=") }.flatMap { Double($0.dropFirst(3)) } ?? .infinity
    if let scenario = list.first(where: { $0.label.contains(wanted) }) { try printDump(scenario, from: from, to: to) }
    exit(0)
}

let overrides = arguments.filter { $0.hasPrefix("set=") }.map { String($0.dropFirst(4)) }
let candidates =
    baseCandidates + (overriddenCandidate(overrides).map { [$0] } ?? [])
    + (arguments.contains("no-cross") ? [] : tuningGrid.map(tunedCandidate))
let clock = ContinuousClock()
let started = clock.now
let scores = runAll(list, candidates: candidates, progress: verbose)
let wall_s = seconds(started.duration(to: clock.now))

let cellHours = scores.map(\.duration_s).reduce(0, +) / 3600
let sampleCount = scores.map(\.samples).reduce(0, +)
print(
    "cellrig-bench-criteria: \(scores.count) runs (\(scores.filter { $0.onset_s != nil }.count) shorted), "
        + "\(cell(cellHours)) cell-hours, \(sampleCount) samples, scored in \(cell(wall_s)) s wall")
print(
    "detected: first stop at or after the true onset; before onset: a shorted cell stopped before its short began; "
        + "false alarms: short-free cells stopped; latency from the onset in samples (the tripping one counted), "
        + "seconds and charge passed. `meets`: >= 95 % detected, 0 before onset, 0 false alarms, median <= 3 samples")
print(
    "windows: the latency counted in judged windows instead of samples; the same as samples at 1 s and 10 s "
        + "sampling, 1 s windows of ten samples at 0.1 s (dendrite-short judges 1 s means there besides the samples). "
        + "`meets (samples / windows)` gives the verdict with the latency counted both ways")
for family in families {
    let familyScores = scores.filter { $0.scenario.family == family }
    guard !familyScores.isEmpty else { continue }
    print("")
    print("== family \(family.rawValue): \(family.summary)")
    printTable(familyScores, candidates: candidates, title: "All runs of \(family.rawValue)")
    print("")
    printIntervalTable(familyScores, candidates: candidates, title: "By sampling interval, \(family.rawValue)")
    if !explain.isEmpty { printExplanations(familyScores, candidates: candidates, labels: explain) }
}

print("")
printCrossFamily(scores, candidates: candidates, families: families)

if timing {
    print("")
    printTiming(families: families)
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
