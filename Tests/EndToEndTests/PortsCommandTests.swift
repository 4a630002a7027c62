import Foundation
import TestSupport
import Testing

@Suite("cellrig ports, run as built", .offCooperativePool)
struct PortsCommandTests {
    private struct Port: Decodable {
        var path: String
        var attachment: String
        var usbVendorID: Int?
        var usbProductID: Int?
    }

    @Test("ports lists this machine's serial ports and says plainly when no USB serial device is connected")
    func ports() throws {
        let json = try TestSupport.runProduct("cellrig", ["ports", "--json"])
        #expect(json.status == 0, "\(json.standardError)")
        let ports = try JSONDecoder().decode([Port].self, from: Data(json.standardOutput.utf8))
        let text = try TestSupport.runProduct("cellrig", ["ports"])
        #expect(text.status == 0, "\(text.standardError)")
        let usb = ports.filter { $0.attachment == "usb" }
        if usb.isEmpty {
            #expect(
                text.standardOutput.contains("no USB serial devices are connected")
                    || text.standardOutput.contains("No USB serial devices are connected"), "\(text.standardOutput)")
        } else {
            for port in usb { #expect(text.standardOutput.contains(port.path)) }
            #expect(usb.allSatisfy { $0.usbVendorID != nil && $0.usbProductID != nil })
        }
    }
}
