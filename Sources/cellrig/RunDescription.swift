import Control
import Domain
import Foundation
import ProtocolFiles

/// How `status` and the end of `watch` show a run for people.
enum RunDescription {
    static func progressLine(_ progress: RunProgress) -> String {
        var line = "run \(progress.run_id)  cycle \(progress.cycle)  \(progress.kind) "
        line += "\(formatNumber(progress.current_density_mA_cm2, significantDigits: 4)) mA/cm2  "
        line += "V \(formatNumber(progress.voltage_V * 1e3, significantDigits: 5)) mV  "
        if let weRe = progress.voltage_we_re_V {
            line += "WE-RE \(formatNumber(weRe * 1e3, significantDigits: 5)) mV  "
        }
        line += "cell time \(formatDuration(progress.time_s))  "
        line += "step \(progress.step + 1)/\(progress.steps)  \(Int((progress.fraction_done * 100).rounded()))% of plan"
        return line
    }

    static func summaryLine(_ status: RunStatus) -> String {
        var line =
            "run \(status.id)\t\(status.state)\t\(status.protocol_name)\trig \(status.rig)\t\(status.samples) samples"
        if let ccd = status.ccd_mA_cm2 { line += "\tCCD \(formatNumber(ccd)) mA/cm2" }
        return line
    }

    static func summaryLine(_ summary: RunSummary) -> String {
        var line =
            "run \(summary.id)\t\(summary.state)\t\(summary.protocol_name)\trig \(summary.rig)\t\(summary.samples) samples"
        if let ccd = summary.ccd_mA_cm2 { line += "\tCCD \(formatNumber(ccd)) mA/cm2" }
        return line
    }

    static func describe(_ status: RunStatus) -> String {
        var lines = [
            "run \(status.id): \(status.state)",
            "  protocol: \(status.protocol_name) (\(status.protocol_file), sha256 \(status.protocol_sha256.prefix(12)))",
            "  rig: \(status.rig)  cell: \(status.cell_label ?? "-")  area: \(formatNumber(status.area_cm2)) cm2",
            "  started: \(status.created_at)" + (status.ended_at.map { "  ended: \($0)" } ?? ""),
            "  samples: \(status.samples)  planned steps: \(status.planned_steps)",
        ]
        if let reason = status.reason { lines.append("  reason: \(reason)") }
        if let ccd = status.ccd_mA_cm2 { lines.append("  CCD: \(formatNumber(ccd)) mA/cm2") }
        if let reaction = status.reaction_time_ms {
            lines.append(
                "  cell off \(formatNumber(reaction, significantDigits: 3)) ms after the tripping sample arrived")
        }
        if let progress = status.progress { lines.append("  now: " + progressLine(progress)) }
        for verdict in status.verdicts where verdict.action != VerdictAction.warn.rawValue {
            lines.append(
                "  verdict: \(verdict.criterion) \(verdict.action) at \(formatDuration(verdict.time_s)): "
                    + verdict.reason)
        }
        lines += WarningSummary.lines(status.verdicts).map { "  " + $0 }
        for voiding in status.results?.voiding ?? [] where voiding.voided {
            lines.append(
                "  voiding at \(formatNumber(voiding.current_density_mA_cm2)) mA/cm2: flagged in "
                    + "\(voiding.flagged_steps) of \(voiding.stripping_steps) strips")
        }
        for spectrum in status.spectra ?? [] {
            lines.append(
                "  impedance (step \(spectrum.step)): \(spectrum.points) points, "
                    + "\(formatNumber(spectrum.first_frequency_Hz)) Hz to \(formatNumber(spectrum.last_frequency_Hz)) "
                    + "Hz; Z' \(formatNumber(spectrum.real_high_frequency_Ohm, significantDigits: 4)) Ohm at the "
                    + "highest frequency, \(formatNumber(spectrum.real_low_frequency_Ohm, significantDigits: 4)) Ohm "
                    + "at the lowest")
            if let fit = spectrum.fit, let interface = fit.interface_Ohm_cm2 {
                lines.append(
                    "    fit \(fit.circuit): interface \(fit.interface_element ?? "?") "
                        + "\(formatNumber(interface, significantDigits: 3)) Ohm cm2 per interface"
                        + (fit.kramers_kronig_consistent ? "" : " (the spectrum fails the lin-KK check)"))
            }
        }
        for truth in status.truth ?? [] {
            lines.append(
                "  truth (simulator): \(truth.kind) at \(formatDuration(truth.time_s)), "
                    + "\(formatNumber(truth.current_density_mA_cm2)) mA/cm2")
        }
        return lines.joined(separator: "\n")
    }
}

/// One line per criterion that warned: how often, and what its warnings mean, from the criterion catalogue's
/// declaration (``CriterionSpec/meaning``), e.g. "voltage-drop: 97 warnings (the seed-004 2 mV rule for a
/// dendrite short, recorded for comparison; it does not stop this protocol), the first at 12.5 h".
enum WarningSummary {
    static func lines(_ verdicts: [VerdictInfo]) -> [String] {
        let warnings = verdicts.filter { $0.action == VerdictAction.warn.rawValue }
        let criteria = warnings.map(\.criterion).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return criteria.map { criterion in
            line(criterion: criterion, warnings: warnings.filter { $0.criterion == criterion })
        }
    }

    static func line(criterion: String, warnings: [VerdictInfo]) -> String {
        let first = warnings[0]
        // A warning without evidence is a note about the criterion itself (it judges nothing on this rig).
        if warnings.allSatisfy({ $0.evidence.isEmpty }) {
            return "\(criterion): \(first.reason)"
        }
        let count = warnings.count == 1 ? "1 warning" : "\(warnings.count) warnings"
        let when = "the first at \(formatDuration(first.time_s))"
        guard let spec = CriterionCatalogue.spec(named: criterion), let meaning = spec.meaning else {
            return "\(criterion): \(count), \(when): \(first.reason)"
        }
        let warnsByDefault = spec.parameter("action")?.defaultValue == .word(VerdictAction.warn.rawValue)
        let consequence =
            warnsByDefault
            ? "recorded; the run goes on" : "recorded for comparison; it does not stop this protocol"
        return "\(criterion): \(count) (\(fill(meaning, spec: spec, evidence: first.evidence)), \(consequence)), "
            + when
    }

    /// Replaces each `{name}` with the parameter's value from the evidence (`name_unit`), else its default.
    static func fill(_ meaning: String, spec: CriterionSpec, evidence: [String: Double]) -> String {
        var text = meaning
        for parameter in spec.parameters {
            let placeholder = "{\(parameter.name)}"
            guard text.contains(placeholder), case .quantity(let dimension, _) = parameter.kind else { continue }
            let unit = String(dimension.canonicalUnit.map { $0 == " " || $0 == "/" ? "_" : $0 })
            let value: Double? =
                if let fromEvidence = evidence[parameter.name + "_" + unit] {
                    fromEvidence
                } else if case .quantity(let quantity)? = parameter.defaultValue {
                    quantity.value
                } else {
                    nil
                }
            guard let value else { continue }
            text = text.replacingOccurrences(of: placeholder, with: format(value, dimension))
        }
        return text.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")
    }

    /// A value in its canonical unit, voltages below 1 V in mV and times in the plan's units.
    static func format(_ value: Double, _ dimension: Domain.Dimension) -> String {
        switch dimension {
        case .voltage where abs(value) < 1: "\(formatNumber(value * 1e3, significantDigits: 4)) mV"
        case .time: formatDuration(value)
        default: "\(formatNumber(value, significantDigits: 4)) \(dimension.canonicalUnit)"
        }
    }
}
