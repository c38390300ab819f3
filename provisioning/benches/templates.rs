//! Configuration files rendered per second, per vendor (`cargo bench -p provisioning --bench templates`).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provisioning::Mac;
use provisioning::templates::{
    Account, Device, Directory, Overrides, Provisioner, Site, Vendor, naming,
};

struct One(Vec<Device>);

impl Directory for One {
    fn device(&self, mac: Mac) -> Option<Device> {
        self.0.iter().find(|d| d.mac == mac).cloned()
    }
}

fn provisioner() -> (Provisioner, Vec<Device>) {
    let devices: Vec<Device> = Vendor::ALL
        .into_iter()
        .enumerate()
        .map(|(i, vendor)| Device {
            mac: Mac([0x02, 0, 0, 0, 0, i as u8]),
            vendor,
            model: Some("T46G".into()),
            user: Some(Account {
                username: "alice".into(),
                display: "Alice & Co <sales>".into(),
                sip_username: "alice".into(),
                sip_secret: "0123456789abcdef".into(),
                number: Some("201".into()),
            }),
            http_secret: None,
        })
        .collect();
    let site = Site {
        registrar: "10.99.0.1".into(),
        ntp: vec!["10.99.0.1".into(), "pool.ntp.org".into()],
        timezone: "Europe/Paris".into(),
        provisioning_url: Some("http://10.99.0.1:8088".into()),
        ..Site::default()
    };
    let p = Provisioner::new(site, Arc::new(One(devices.clone())), Overrides::new()).unwrap();
    (p, devices)
}

fn render(c: &mut Criterion) {
    let (p, devices) = provisioner();
    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1));
    for d in &devices {
        let name = naming::device_file_name(d.vendor, d.mac);
        g.bench_function(d.vendor.as_str(), |b| {
            b.iter(|| black_box(p.render(black_box(&name)).unwrap().unwrap()))
        });
    }
    for name in [
        "020000000001-phone.cfg",
        "y000000000028.cfg",
        "000000000000.cfg",
        "snomD785.htm",
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(p.render(black_box(name)).unwrap().unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
