//! Result files: exact original formats, round trips through every layout, and bad input that
//! must be reported with its file and line.

mod common;

use common::write;
use ostrack_eval::results::{
    format_ostrack_boxes, format_times, read_sequence_result, sequence_result_exists,
    sequence_result_path,
};
use ostrack_eval::{DatasetId, write_got10k_repetition, write_sequence_result};

#[test]
fn ostrack_layout_truncates_like_astype_int() {
    let text = format_ostrack_boxes(&[[10.9, -3.7, 40.5, 0.99], [0.0, 1.0, 2.0, 3.0]]).unwrap();
    assert_eq!(text, "10\t-3\t40\t0\n0\t1\t2\t3\n");
    assert_eq!(format_times(&[0.0123456789, 1.0]), "0.012346\n1.000000\n");
    assert!(format_ostrack_boxes(&[[f64::NAN, 0.0, 1.0, 1.0]]).is_err());
}

#[test]
fn write_then_read_back_in_every_dataset_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let boxes = [
        [1.5, 2.5, 30.2, 40.8],
        [3.0, 4.0, 31.0, 41.0],
        [5.9, 6.1, 32.0, 42.0],
    ];
    let times = [0.5, 0.02, 0.03];
    for dataset in [
        DatasetId::Lasot,
        DatasetId::Got10kTest,
        DatasetId::TrackingNet,
    ] {
        let path = write_sequence_result(tmp.path(), dataset, "seq-1", &boxes, &times).unwrap();
        assert_eq!(path, sequence_result_path(tmp.path(), dataset, "seq-1"));
        assert!(sequence_result_exists(tmp.path(), dataset, "seq-1"));
    }
    assert!(tmp.path().join("got10k/seq-1.txt").is_file());
    assert!(tmp.path().join("trackingnet/seq-1_time.txt").is_file());
    let text = std::fs::read_to_string(tmp.path().join("seq-1.txt")).unwrap();
    assert_eq!(text, "1\t2\t30\t40\n3\t4\t31\t41\n5\t6\t32\t42\n");

    let read = read_sequence_result(tmp.path(), "seq-1").unwrap();
    assert_eq!(read.runs.len(), 1);
    assert_eq!(
        read.runs[0].boxes,
        vec![[1., 2., 30., 40.], [3., 4., 31., 41.], [5., 6., 32., 42.]]
    );
    assert_eq!(read.times, times.to_vec());

    // Only the subfolder has it: the reader finds OSTrack's got10k/ folder too.
    let only_sub = tempfile::tempdir().unwrap();
    write_sequence_result(only_sub.path(), DatasetId::Got10kVal, "s", &boxes, &times).unwrap();
    assert_eq!(
        read_sequence_result(only_sub.path(), "s")
            .unwrap()
            .runs
            .len(),
        1
    );

    let err = write_sequence_result(tmp.path(), DatasetId::Lasot, "bad", &boxes, &times[..2])
        .unwrap_err();
    assert!(
        err.to_string().contains("3 boxes but 2 frame times"),
        "{err}"
    );
    assert!(!tmp.path().join("bad.txt").exists() && !tmp.path().join("bad_time.txt").exists());
}

#[test]
fn got10k_toolkit_repetitions_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let a = [[1.0, 2.0, 3.0, 4.0], [1.25, 2.5, 3.0, 4.0]];
    let b = [[1.0, 2.0, 3.0, 4.0], [9.0, 9.0, 9.0, 9.0]];
    write_got10k_repetition(tmp.path(), "GOT-10k_Val_000001", 1, &a, &[0.0, 0.1]).unwrap();
    write_got10k_repetition(tmp.path(), "GOT-10k_Val_000001", 2, &b, &[0.0, 0.2]).unwrap();
    let dir = tmp.path().join("GOT-10k_Val_000001");
    assert_eq!(
        std::fs::read_to_string(dir.join("GOT-10k_Val_000001_001.txt")).unwrap(),
        "1.000,2.000,3.000,4.000\n1.250,2.500,3.000,4.000\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("GOT-10k_Val_000001_time.txt")).unwrap(),
        "0.00000000,0.00000000\n0.10000000,0.20000000\n"
    );
    let read = read_sequence_result(tmp.path(), "GOT-10k_Val_000001").unwrap();
    assert_eq!(read.runs.len(), 2);
    assert_eq!(read.runs[0].boxes, a.to_vec());
    assert_eq!(read.runs[1].boxes, b.to_vec());
    assert_eq!(read.times, vec![0.0, 0.0, 0.1, 0.2]);
}

#[test]
fn bad_result_files_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "cols.txt", "1\t2\t3\t4\n5\t6\t7\n");
    let e = read_sequence_result(tmp.path(), "cols")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{}:2: expected 4 values (x, y, w, h), found 3", p.display())
    );

    let p = write(tmp.path(), "nan.txt", "1,2,3,4\n\n1,nan,3,4\n");
    let e = read_sequence_result(tmp.path(), "nan")
        .unwrap_err()
        .to_string();
    assert_eq!(e, format!("{}:3: NaN in box", p.display()));

    let p = write(tmp.path(), "word.txt", "1 2 3 four\n");
    let e = read_sequence_result(tmp.path(), "word")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{}:1: expected a number, found \"four\"", p.display())
    );

    let p = write(tmp.path(), "empty.txt", "\n");
    let e = read_sequence_result(tmp.path(), "empty")
        .unwrap_err()
        .to_string();
    assert_eq!(e, format!("{}: result file has no boxes", p.display()));

    let e = read_sequence_result(tmp.path(), "missing")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&tmp.path().display().to_string())
            && e.contains("no result for sequence missing"),
        "{e}"
    );
}
