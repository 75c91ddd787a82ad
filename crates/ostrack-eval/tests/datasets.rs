//! Benchmark listings on miniature copies of each layout (and the GOT-10k / LaSOT fixtures).

mod common;

use std::path::Path;

use common::{fixtures_dir, write};
use ostrack_eval::{DatasetId, list_sequences};

const GT2: &str = "1,2,3,4\n5,6,7,8\n";

fn touch(dir: &Path, rel: &str) {
    write(dir, rel, "");
}

#[test]
fn got10k_fixture_listing_needs_no_images() {
    let root = fixtures_dir().join("metrics/got10k/val");
    if !root.is_dir() {
        return;
    }
    let names: Vec<String> = std::fs::read_to_string(root.join("list.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    for r in [root.clone(), root.parent().unwrap().to_path_buf()] {
        let seqs = list_sequences(DatasetId::Got10kVal, &r).unwrap();
        assert_eq!(
            seqs.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            names
        );
        for s in &seqs {
            let n = s.ground_truth.len();
            assert_eq!(s.cover.as_ref().unwrap().len(), n);
            assert_eq!(s.visible.as_ref().unwrap().len(), n);
            assert!(s.image_size.is_some());
        }
    }
}

#[test]
fn got10k_frames_sorted_numerically_and_label_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    write(r, "val/list.txt", "S1\n");
    write(r, "val/S1/groundtruth.txt", GT2);
    write(r, "val/S1/cover.label", "8\n0\n");
    write(r, "val/S1/absence.label", "0\n1\n");
    write(
        r,
        "val/S1/meta_info.ini",
        "[METAINFO]\nobject_class: cat\nresolution: (640, 480)\n",
    );
    for f in ["00000010.jpg", "00000002.jpg", "00000001.jpg"] {
        touch(r, &format!("val/S1/{f}"));
    }
    let s = &list_sequences(DatasetId::Got10kVal, r).unwrap()[0];
    let frames: Vec<String> = s
        .frames
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(frames, ["00000001.jpg", "00000002.jpg", "00000010.jpg"]);
    assert_eq!(s.cover, Some(vec![8, 0]));
    assert_eq!(s.visible, Some(vec![true, false]));
    assert_eq!(s.image_size, Some([640.0, 480.0]));
    assert_eq!(s.object_class.as_deref(), Some("cat"));

    let label = write(r, "val/S1/cover.label", "8\n");
    let e = list_sequences(DatasetId::Got10kVal, r)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: 1 labels, but the ground truth has 2 frames",
            label.display()
        )
    );

    let gt = write(r, "val/S1/groundtruth.txt", "1,2,3,4\n5,6,7\n");
    let e = list_sequences(DatasetId::Got10kVal, r)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}:2: expected 4 values (x, y, w, h), found 3",
            gt.display()
        )
    );
}

#[test]
fn lasot_uses_the_test_split_file_when_present() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    for seq in ["cat/cat-10", "cat/cat-2", "dog/dog-1"] {
        write(r, &format!("{seq}/groundtruth.txt"), GT2);
        write(r, &format!("{seq}/full_occlusion.txt"), "0,1");
        write(r, &format!("{seq}/out_of_view.txt"), "1,0\n");
    }
    let all = list_sequences(DatasetId::Lasot, r).unwrap();
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cat-2", "cat-10", "dog-1"]);
    assert_eq!(all[0].visible, Some(vec![false, false]));
    assert!(all[0].frames[1].ends_with("cat/cat-2/img/00000002.jpg"));
    assert_eq!(all[0].object_class.as_deref(), Some("cat"));

    write(r, "testing_set.txt", "dog-1\ncat-10\n");
    let split: Vec<String> = list_sequences(DatasetId::Lasot, r)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(split, ["dog-1", "cat-10"]);
    // LaSOT-ext has no split file: every sequence.
    assert_eq!(list_sequences(DatasetId::LasotExt, r).unwrap().len(), 3);
}

#[test]
fn trackingnet_otb_uav_nfs_tnl2k_custom_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();

    write(r, "tn/TEST/anno/vidB.txt", "1,2,3,4\n");
    for f in ["10.jpg", "9.jpg", "0.jpg"] {
        touch(r, &format!("tn/TEST/frames/vidB/{f}"));
    }
    let tn = list_sequences(DatasetId::TrackingNet, &r.join("tn")).unwrap();
    assert_eq!(tn[0].name, "vidB");
    assert_eq!(tn[0].ground_truth.len(), 1);
    assert!(tn[0].frames[2].ends_with("10.jpg"));

    write(
        r,
        "otb/Jogging/groundtruth_rect.1.txt",
        "1 2 3 4\n5 6 7 8\n",
    );
    write(
        r,
        "otb/Jogging/groundtruth_rect.2.txt",
        "1\t2\t3\t4\n5\t6\t7\t8\n",
    );
    write(r, "otb/David/groundtruth_rect.txt", GT2);
    write(r, "otb/Tiger1/groundtruth_rect.txt", &"1,2,3,4\n".repeat(7));
    let otb = list_sequences(DatasetId::Otb, &r.join("otb")).unwrap();
    let names: Vec<&str> = otb.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["David", "Jogging_1", "Jogging_2", "Tiger1"]);
    assert!(otb[0].frames[0].ends_with("David/img/0300.jpg"));
    assert!(otb[1].frames[0].ends_with("Jogging/img/0001.jpg"));
    assert_eq!(otb[3].ground_truth.len(), 2);
    assert!(otb[3].frames[0].ends_with("Tiger1/img/0006.jpg"));

    write(
        r,
        "uav/anno/UAV123/bird1_2.txt",
        "NaN,NaN,NaN,NaN\n1,2,3,4\n",
    );
    write(r, "uav/anno/UAV123/boat1.txt", GT2);
    std::fs::create_dir_all(r.join("uav/anno/UAV123/att")).unwrap();
    let uav = list_sequences(DatasetId::Uav123, &r.join("uav")).unwrap();
    assert_eq!(
        uav.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["uav_bird1_2", "uav_boat1"]
    );
    assert!(uav[0].ground_truth[0][0].is_nan());
    assert!(uav[0].frames[0].ends_with("data_seq/UAV123/bird1/000775.jpg"));
    assert!(uav[1].frames[1].ends_with("data_seq/UAV123/boat1/000002.jpg"));

    write(r, "nfs/anno/nfs_Gymnastics.txt", "1\t2\t3\t4\n");
    let nfs = list_sequences(DatasetId::Nfs, &r.join("nfs")).unwrap();
    assert_eq!(nfs[0].name, "nfs_Gymnastics");
    assert!(nfs[0].frames[0].ends_with("sequences/Gymnastics/00001.jpg"));

    write(r, "tnl2k/seqA/groundtruth.txt", GT2);
    touch(r, "tnl2k/seqA/imgs/00002.png");
    touch(r, "tnl2k/seqA/imgs/00001.png");
    let tnl = list_sequences(DatasetId::Tnl2k, &r.join("tnl2k")).unwrap();
    assert!(tnl[0].frames[0].ends_with("00001.png"));

    write(r, "mine/walk/groundtruth.txt", GT2);
    touch(r, "mine/walk/frame10.png");
    touch(r, "mine/walk/frame9.png");
    write(r, "mine/run/groundtruth.txt", GT2);
    write(r, "mine/run/absence.label", "0\n1\n");
    touch(r, "mine/run/img/1.jpg");
    let custom = list_sequences(DatasetId::Custom, &r.join("mine")).unwrap();
    assert_eq!(
        custom.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["run", "walk"]
    );
    assert_eq!(custom[0].visible, Some(vec![true, false]));
    assert_eq!(custom[0].frames.len(), 1);
    assert!(custom[1].frames[0].ends_with("frame9.png"));
    assert!(custom[1].visible.is_none());

    let e = list_sequences(DatasetId::Custom, &r.join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nowhere") && e.contains("not a directory"),
        "{e}"
    );
    let e = list_sequences(DatasetId::Nfs, &r.join("mine"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("anno/nfs_<Seq>.txt"), "{e}");
}

#[test]
fn dataset_and_preset_names_parse() {
    for d in DatasetId::ALL {
        assert_eq!(d.name().parse::<DatasetId>().unwrap(), d);
    }
    assert!(
        "imagenet"
            .parse::<DatasetId>()
            .unwrap_err()
            .to_string()
            .contains("got10k-val")
    );
    for p in ostrack_eval::Preset::ALL {
        assert_eq!(p.name().parse::<ostrack_eval::Preset>().unwrap(), p);
    }
}
